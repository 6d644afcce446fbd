package dev.entanglement.hibernate.internal.core;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.Executor;
import org.jboss.logging.Logger;

/**
 * Runs tasks one at a time, in submission order, on threads of a shared executor: the confinement
 * that makes a peer's stream (not thread-safe in gRPC) and its apply order safe without a thread
 * per peer.
 *
 * <h2>Concurrency</h2>
 * {@code queue} and {@code running} are guarded by {@code this}. A task that throws is logged and
 * does not stop the tasks after it.
 */
public final class SerialExecutor implements Executor {
  private static final Logger LOG = Logger.getLogger(SerialExecutor.class);

  private final Executor delegate;
  @GuardedBy("this")
  private final Queue<Runnable> queue = new ArrayDeque<>();
  @GuardedBy("this")
  private boolean running;

  public SerialExecutor(Executor delegate) {
    this.delegate = delegate;
  }

  @Override
  public void execute(Runnable task) {
    synchronized (this) {
      queue.add(task);
      if (running) {
        return;
      }
      running = true;
    }
    try {
      delegate.execute(this::runQueued);
    } catch (RuntimeException e) { // rejected: the node is shutting down
      synchronized (this) {
        queue.clear();
        running = false;
      }
    }
  }

  private void runQueued() {
    while (true) {
      Runnable task;
      synchronized (this) {
        task = queue.poll();
        if (task == null) {
          running = false;
          return;
        }
      }
      try {
        task.run();
      } catch (RuntimeException | Error e) {
        LOG.error("Entanglement task failed", e);
      }
    }
  }
}
