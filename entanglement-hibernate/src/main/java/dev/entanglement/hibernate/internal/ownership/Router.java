package dev.entanglement.hibernate.internal.ownership;

import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.core.RawChanges;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.PeerRegistry;
import dev.entanglement.proto.v1.Change;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * Where things go next: the peer towards each owner (for update requests), learned from where
 * the owner's changes came from, and the flooding of applied changes on to the other peers.
 *
 * <h2>Concurrency</h2>
 * {@code routes} is a concurrent map written by the apply path and the registry's events and
 * read by the forwarder; a route may be one change stale, which only costs a request a detour
 * or an {@code OwnerUnreachable}.
 */
public final class Router implements PeerRegistry.Events {
  private static final Logger LOG = Logger.getLogger(Router.class);

  private final String nodeName;
  private final PeerRegistry peers;
  private final EntangledModel model;
  private final Function<Change, String> objectKey;
  /** Owner -> the peer its changes last came from. */
  private final Map<String, String> routes = new ConcurrentHashMap<>();

  public Router(String nodeName, PeerRegistry peers, EntangledModel model, Function<Change, String> objectKey) {
    this.nodeName = nodeName;
    this.peers = peers;
    this.model = model;
    this.objectKey = objectKey;
  }

  /**
   * A full-state change of another owner came from {@code peer}: remember it as the way back to
   * that owner. Copies arriving over several paths (a triangle, a ring) are ordered by the
   * owner's serial, so no path is refused: refusing one would let a position later received over
   * it skip the refused change.
   */
  public void cameFrom(String owner, String peer) {
    if (!owner.equals(peer)) {
      routes.put(owner, peer);
    }
  }

  /** The peer towards an owner: the owner itself when connected, else where its changes came from. */
  public String routeTo(String owner) {
    if (peers.isConnected(owner)) {
      return owner;
    }
    String via = routes.get(owner);
    return via != null && peers.isConnected(via) ? via : null;
  }

  /** Forgets the way to an owner (it was removed). */
  public void forget(String owner) {
    routes.remove(owner);
  }

  @Override
  public void gone(PeerConnection connection) {
    routes.values().removeIf(connection.peerName()::equals);
  }

  /** Floods changes applied from one peer on to the others (never back, never to their owner). */
  public void relay(String from, List<Change> changes) {
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
          connection.offer(new Outgoing(key, type.priority(), type.coalesce(), change));
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
