package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.metrics.NodeMetrics;

/**
 * What the meters of one peer read that its connection does not keep: lag and policy denials.
 *
 * <h2>Concurrency</h2>
 * Immutable; read from the metrics system's threads.
 */
final class PeerFigures implements NodeMetrics.PeerFigures {
  private final NodeRuntime node;
  private final String peer;

  PeerFigures(NodeRuntime node, String peer) {
    this.node = node;
    this.peer = peer;
  }

  @Override
  public long lagSerials() {
    return Math.max(0, node.clock.last() - node.ledger.acknowledgedBy(peer, node.config.nodeName()));
  }

  @Override
  public long lagObjects() {
    return node.reads.countChangedSince(node.config.nodeName(), node.ledger.acknowledgedBy(peer, node.config.nodeName()));
  }

  @Override
  public long policyDenials() {
    return node.policy.engine().denials(peer);
  }
}
