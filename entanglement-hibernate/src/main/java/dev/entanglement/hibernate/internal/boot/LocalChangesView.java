package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.core.Outgoing;
import java.util.List;

/**
 * The part every writer of this node's own objects sees the same way (capture, an owner's
 * decisions, hand-overs): the node's name, serials, and publication after commit, all through
 * {@link LocalChanges}. Stateless.
 */
abstract class LocalChangesView {
  final NodeRuntime node;

  LocalChangesView(NodeRuntime node) {
    this.node = node;
  }

  public String nodeName() {
    return node.config.nodeName();
  }

  public long nextSerial() {
    return node.localChanges.nextSerial();
  }

  public void finished(List<Long> serials) {
    if (serials.isEmpty()) {
      return; // nothing taken (a follower takes no serials)
    }
    node.localChanges.finished(serials);
  }

  public void publish(List<Outgoing> changes) {
    node.localChanges.publish(changes);
  }

  public void notPublished(long lowestSerial, Throwable cause) {
    node.localChanges.notPublished(lowestSerial, cause);
  }
}
