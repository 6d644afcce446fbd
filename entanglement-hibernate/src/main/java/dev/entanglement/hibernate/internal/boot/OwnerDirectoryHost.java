package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.ownership.OwnerDirectory;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.proto.v1.Envelope;
import org.jboss.logging.Logger;

/**
 * The owner directory's view of the node: the peers' streams and the policies' say on whether a
 * peer may be told anything at all.
 *
 * <h2>Concurrency</h2>
 * Stateless; the registry and the policies are thread-safe.
 */
final class OwnerDirectoryHost implements OwnerDirectory.Host {
  private static final LimitedLog failures = new LimitedLog(Logger.getLogger(OwnerDirectory.class));
  private final NodeRuntime node;

  OwnerDirectoryHost(NodeRuntime node) {
    this.node = node;
  }

  @Override
  public boolean mayAnnounceTo(String peer) {
    try {
      return !node.policy.engine().sendToPeer(peer).isDeny();
    } catch (RuntimeException e) {
      // fail closed: a peer the policies cannot decide is told nothing
      failures.warn(peer, "Node '%s' announces no routes to peer '%s': a sendToPeer policy threw %s"
          .formatted(node.config.nodeName(), peer, e));
      return false;
    }
  }

  @Override
  public boolean mayName(String peer, String name) {
    PeerConnection connection = node.peers.get(peer);
    return connection != null && connection.mayName(name);
  }

  @Override
  public boolean send(String peer, Envelope envelope) {
    return node.peers.sendUrgent(peer, envelope);
  }

  @Override
  public boolean isConnected(String peer) {
    return node.peers.isConnected(peer);
  }
}
