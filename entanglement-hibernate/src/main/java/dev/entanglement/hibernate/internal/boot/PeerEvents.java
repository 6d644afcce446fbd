package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.PeerRegistry;

/**
 * What the ledger of peers' positions, the forwarder, ephemeral objects and meters do when peers come and go (the owner directory
 * subscribes on its own).
 *
 * <h2>Concurrency</h2>
 * Stateless; anything that may block goes to the worker pool.
 */
final class PeerEvents implements PeerRegistry.Events {
  private final NodeRuntime node;

  PeerEvents(NodeRuntime node) {
    this.node = node;
  }

  @Override
  public void connected(PeerConnection connection) {
    if (!connection.browser()) { // browsers hold nothing durably: they never hold compaction back
      node.ledger.arrived(connection.peerName()); // before its Hello is checked against compaction
    }
    node.pool.execute(node.forwarder::flush);
    node.pool.execute(() -> node.ephemerals.connected(connection));
    node.metrics.peerConnected(connection, new PeerFigures(node, connection.peerName()));
  }

  @Override
  public void replaced(PeerConnection old) {
    node.metrics.peerGone(old);
  }

  @Override
  public void gone(PeerConnection connection) {
    if (!connection.browser()) {
      node.ledger.departed(connection.peerName());
    }
    node.forwarder.peerGone(connection.peerName());
    node.metrics.peerGone(connection);
  }

  @Override
  public void streamEnded(PeerConnection connection) {
    node.ephemerals.disconnected(connection);
  }
}
