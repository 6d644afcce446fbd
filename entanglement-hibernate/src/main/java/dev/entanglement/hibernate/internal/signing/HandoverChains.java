package dev.entanglement.hibernate.internal.signing;

import dev.entanglement.proto.v1.Change;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The signed hand-overs that gave this node the objects it took over (by object key): its states
 * of such an object carry them ({@code Change.handovers}), so that every receiver can check that
 * the epoch was raised by the previous owner's hand-over. Learned when a hand-over to this node is
 * applied, and at boot from the signed changes stored with the rows.
 *
 * <p>Bounded by the objects this node took over while signing (one short list of small changes
 * each); an object this node hands on or deletes keeps its entry until the node restarts (a later
 * hand-over to this node replaces it).
 *
 * <h2>Concurrency</h2>
 * Thread-safe (a concurrent map of immutable lists).
 */
public final class HandoverChains {
  private final String nodeName;
  private final Map<String, List<Change>> chains = new ConcurrentHashMap<>();

  public HandoverChains(String nodeName) {
    this.nodeName = nodeName;
  }

  /** A signed hand-over of {@code key}; kept when it hands the object to this node. */
  public void learned(String key, Change handover) {
    if (key == null || !handover.getHandoverTo().equals(nodeName) || handover.getSignature().isEmpty()
        || handover.getEphemeral()) {
      return;
    }
    List<Change> chain = new ArrayList<>(handover.getHandoversList());
    chain.add(handover.toBuilder().clearHandovers().build());
    chains.put(key, List.copyOf(chain));
  }

  /** The chain for this node's state of an object at its epoch, or empty. */
  public List<Change> of(String key, long epoch) {
    List<Change> chain = key == null ? null : chains.get(key);
    return chain == null || chain.size() != epoch ? List.of() : chain;
  }

  public int size() {
    return chains.size();
  }
}
