package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.proto.v1.Change;
import org.jboss.logging.Logger;

/**
 * Where applications and operators see withdrawals (docs/design/withdrawal.md) until a change
 * listener exists (issue 18): each is logged at DEBUG and counted in the metrics
 * ({@code entanglement.withdrawals}, tag {@code direction}).
 *
 * <h2>Concurrency</h2>
 * Stateless; the metrics are read on each call (set once at boot).
 */
final class Withdrawals {
  private static final Logger LOG = Logger.getLogger(Withdrawals.class);

  private final NodeRuntime node;

  Withdrawals(NodeRuntime node) {
    this.node = node;
  }

  /** A withdrawal goes to {@code peer}: a change made the object denied to it, or one is passed on. */
  void sent(String peer, String key, Change withdrawal) {
    node.metrics.withdrawal(true);
    LOG.debugf("Node '%s' withdraws %s of '%s' from peer '%s' at serial %d", node.config.nodeName(), key,
        withdrawal.getOwner(), peer, withdrawal.getSerial());
  }

  /** This node removed its copy of an object withdrawn from it by {@code peer}. */
  void applied(String peer, String key, Change withdrawal) {
    node.metrics.withdrawal(false);
    LOG.debugf("Node '%s' withdrew %s of '%s' at serial %d (withdrawn by peer '%s')", node.config.nodeName(), key,
        withdrawal.getOwner(), withdrawal.getSerial(), peer);
  }
}
