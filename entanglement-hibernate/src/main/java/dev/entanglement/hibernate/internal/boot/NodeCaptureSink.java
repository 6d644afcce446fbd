package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.capture.CaptureSink;
import dev.entanglement.hibernate.internal.ownership.ForwardRequest;
import dev.entanglement.hibernate.internal.ownership.Ownership;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Capture's view of the node ({@link CaptureSink}): serials, publication after commit, the
 * ownership map and the forwarder.
 *
 * <h2>Concurrency</h2>
 * Stateless; called from application threads at commit.
 */
public final class NodeCaptureSink extends LocalChangesView implements CaptureSink {
  NodeCaptureSink(NodeRuntime node) {
    super(node);
  }

  @Override
  public Bookkeeping bookkeeping() {
    return node.bookkeeping;
  }

  @Override
  public Ownership ownership() {
    return node.ownership;
  }

  @Override
  public List<CompletableFuture<Object>> forward(List<ForwardRequest> requests) {
    List<CompletableFuture<Object>> futures = new ArrayList<>(requests.size());
    for (ForwardRequest request : requests) {
      futures.add(node.forwarder.submit(request));
    }
    return futures;
  }

  @Override
  public boolean failClosed() {
    return node.config.captureFailClosed();
  }

  @Override
  public void captureFailed(String what, Throwable cause) {
    node.captureFailures.incrementAndGet();
  }

  @Override
  public void captured(int changes, long nanos) {
    node.metrics.captured(changes, nanos);
  }
}
