package dev.entanglement.hibernate.internal.ownership;

import java.util.Map;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.core.RawChanges;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.PeerRegistry;
import dev.entanglement.proto.v1.Change;
import java.util.List;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * Floods applied changes on to the other peers (never back, never to their owner). Where update
 * requests go is the {@link OwnerDirectory}'s job.
 *
 * <h2>Concurrency</h2>
 * Stateless; called on the apply path.
 */
public final class Router {
  private static final Logger LOG = Logger.getLogger(Router.class);

  private final String nodeName;
  private final PeerRegistry peers;
  private final EntangledModel model;
  private final Function<Change, String> objectKey;

  public Router(String nodeName, PeerRegistry peers, EntangledModel model, Function<Change, String> objectKey) {
    this.nodeName = nodeName;
    this.peers = peers;
    this.model = model;
    this.objectKey = objectKey;
  }

  /** Floods changes applied from one peer on to the others (never back, never to their owner). */
  public void relay(String from, List<Change> changes) {
    relay(from, changes, Map.of());
  }

  /**
   * As {@link #relay(String, List)}, each change with the state this node held before it, where
   * known ({@code previous}, by change): a peer this node's policies allowed that state may hold
   * the object, so it gets a withdrawal when the new state is denied to it, or when the change is
   * a withdrawal (docs/design/withdrawal.md).
   */
  public void relay(String from, List<Change> changes, Map<Change, Change> previous) {
    LOG.debugf("Node '%s' relays %d changes from '%s'", nodeName, changes.size(), from);
    for (PeerConnection connection : peers.others(from)) {
      String to = connection.peerName();
      for (Change change : changes) {
        if (to.equals(change.getOwner())) {
          continue;
        }
        EntangledType type = model.byName(change.getEntity());
        String key = objectKey.apply(change);
        if (type != null && key != null) {
          connection.offer(new Outgoing(key, type.priority(), type.coalesce(), change, previous.get(change)));
        }
      }
    }
  }

  /**
   * Passes changes of entity types this node does not have (parked raw here) on to the other
   * peers as received, never back, never to their owner. Each peer's send policies still decide
   * (see {@code PolicyPoints}: what they cannot decide without the object is held).
   */
  public void relayRaw(String from, List<Change> changes) {
    LOG.debugf("Node '%s' relays %d undecoded changes from '%s'", nodeName, changes.size(), from);
    for (PeerConnection connection : peers.others(from)) {
      for (Change change : changes) {
        Outgoing raw = RawChanges.outgoing(change);
        if (raw != null && !connection.peerName().equals(change.getOwner())) {
          connection.offer(raw);
        }
      }
    }
  }
}
