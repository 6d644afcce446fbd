package dev.entanglement.hibernate.internal.ownership;

import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.core.NodeNames;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.PeerRegistry;
import dev.entanglement.hibernate.internal.store.RemovedOwners;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.OwnerRemoved;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.jboss.logging.Logger;

/**
 * Removal of an owner for good by an operator: its objects are deleted here, its changes refused
 * from then on, and the removal flooded so every node does the same. Removals are stored
 * ({@link RemovedOwners}), so they outlive restarts, and every peer that connects is told of
 * them all, so nodes that were offline when it happened learn of it too.
 *
 * <h2>Concurrency</h2>
 * {@code removed} is a concurrent map; {@code putIfAbsent} makes each removal happen once per
 * node even when it arrives over several paths at once. Removals run on {@code pool}.
 */
public final class OwnerRemoval implements PeerRegistry.Events {
  private static final Logger LOG = Logger.getLogger(OwnerRemoval.class);

  /** What else forgets a removed owner. */
  public interface Forget {
    /** Deletes the owner's objects here; returns how many. Blocking. */
    int deleteObjects(String owner);

    /** Forgets everything else known of the owner (routes, ownership, ephemeral objects). */
    void forget(String owner);
  }

  private final String nodeName;
  private final PeerRegistry peers;
  private final Executor pool;
  private final Forget forget;
  private final RemovedOwners store;
  /** Owner -> the node where an operator removed it (as stored). */
  private final Map<String, String> removed = new ConcurrentHashMap<>();
  private final LimitedLog refusals = new LimitedLog(LOG);

  public OwnerRemoval(String nodeName, PeerRegistry peers, Executor pool, Forget forget, RemovedOwners store) {
    this.nodeName = nodeName;
    this.peers = peers;
    this.pool = pool;
    this.forget = forget;
    this.store = store;
    removed.putAll(store.load());
  }

  /** A peer that connects learns of every removal, also those made while it was offline. */
  @Override
  public void connected(PeerConnection connection) {
    if (removed.isEmpty()) {
      return;
    }
    connection.whenOpen(() -> removed.forEach((owner, removedBy) -> {
      if (!owner.equals(connection.peerName())) {
        connection.sendUrgent(Envelope.newBuilder()
            .setOwnerRemoved(OwnerRemoved.newBuilder().setOwner(owner).setRemovedBy(removedBy)).build());
      }
    }));
  }

  /** The node where the owner was removed, or null if it was not. */
  public String removedBy(String owner) {
    return removed.get(owner);
  }

  /** An operator removes an owner here. Completes with the number of objects deleted here. */
  public CompletableFuture<Integer> remove(String owner) {
    if (owner.equals(nodeName)) {
      return CompletableFuture.failedFuture(new IllegalArgumentException(
          "node '%s' cannot remove itself as an owner".formatted(owner)));
    }
    OwnerRemoved removal = OwnerRemoved.newBuilder().setOwner(owner).setRemovedBy(nodeName).build();
    return CompletableFuture.supplyAsync(() -> apply(null, removal), pool);
  }

  /** A removal arrived from a peer. Never blocks. */
  public void received(String peer, OwnerRemoved removal) {
    if (!NodeNames.valid(removal.getOwner()) || !NodeNames.valid(removal.getRemovedBy())) {
      refusals.warn(peer, "Ignored an owner removal from peer '%s' naming owner %s removed at %s; expected node names of %s"
          .formatted(peer, quoted(removal.getOwner()), quoted(removal.getRemovedBy()), NodeNames.RULE));
      return;
    }
    if (!removal.getOwner().equals(nodeName)) {
      pool.execute(() -> {
        try {
          apply(peer, removal);
        } catch (RuntimeException e) {
          refusals.warn(peer + "|store", "Could not record the removal of owner '%s' from peer '%s' (taken again when "
              .formatted(removal.getOwner(), peer) + "a peer sends it again): " + e.getMessage());
        }
      });
    }
  }

  private static String quoted(String value) {
    String shown = value.length() > 64 ? value.substring(0, 64) + "... (" + value.length() + " characters)" : value;
    return "'" + shown.replaceAll("\\p{Cntrl}", "?") + "'";
  }

  private int apply(String from, OwnerRemoved removal) {
    String owner = removal.getOwner();
    if (removed.putIfAbsent(owner, removal.getRemovedBy()) != null) {
      return 0; // known already: not passed on again (loops end here)
    }
    try {
      store.record(owner, removal.getRemovedBy());
    } catch (RuntimeException e) {
      removed.remove(owner); // not durable: taken again when a peer sends it again, or retried by the operator
      throw e;
    }
    int count = forget.deleteObjects(owner);
    forget.forget(owner);
    LOG.infof("Node '%s' removed owner '%s' (removed by an operator at '%s'): %d objects deleted", nodeName,
        owner, removal.getRemovedBy(), count);
    Envelope envelope = Envelope.newBuilder().setOwnerRemoved(removal).build();
    for (PeerConnection connection : peers.others(from)) {
      connection.sendUrgent(envelope);
    }
    return count;
  }
}
