package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.ephemeral.EphemeralStore;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.proto.v1.Change;
import java.util.Collection;

/**
 * The ephemeral objects' view of the node: its peers, policies and removed owners.
 *
 * <h2>Concurrency</h2>
 * Stateless.
 */
final class EphemeralHost implements EphemeralStore.Host {
  private final NodeRuntime node;

  EphemeralHost(NodeRuntime node) {
    this.node = node;
  }

  @Override
  public String nodeName() {
    return node.config.nodeName();
  }

  @Override
  public Collection<PeerConnection> connections() {
    return node.peers.connected();
  }

  @Override
  public PeerConnection connection(String peer) {
    return node.peers.get(peer);
  }

  @Override
  public String receiveDenied(String peer, Class<?> type, Change change) {
    return node.policy.ephemeralDenied(peer, type, change);
  }

  @Override
  public String receiveObjectDenied(String peer, Class<?> type, Change change, Object incoming, Object stored) {
    return node.policy.ephemeralObjectDenied(peer, type, change, incoming, stored);
  }

  @Override
  public String removedBy(String owner) {
    return node.ownerRemoval.removedBy(owner);
  }

  @Override
  public boolean isEntity(String name) {
    return node.model.byName(name) != null;
  }
}
