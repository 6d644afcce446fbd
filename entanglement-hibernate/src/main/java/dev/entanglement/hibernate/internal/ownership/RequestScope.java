package dev.entanglement.hibernate.internal.ownership;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Collects the futures of the update requests a transaction forwards, for the explicit API
 * ({@code Entanglement.update(...)}), which runs that transaction on the calling thread.
 *
 * <h2>Concurrency</h2>
 * Thread-confined (a thread local).
 */
public final class RequestScope implements AutoCloseable {
  private static final ThreadLocal<RequestScope> CURRENT = new ThreadLocal<>();
  private final List<CompletableFuture<Object>> futures = new ArrayList<>();
  private final RequestScope outer;

  private RequestScope() {
    outer = CURRENT.get();
    CURRENT.set(this);
  }

  public static RequestScope open() {
    return new RequestScope();
  }

  /** Whether a scope is open on this thread: someone waits for the futures of the requests made now. */
  public static boolean active() {
    return CURRENT.get() != null;
  }

  /** Hands a request's future to the scope open on this thread, if any. */
  public static void collect(CompletableFuture<Object> future) {
    RequestScope scope = CURRENT.get();
    if (scope != null) {
      scope.futures.add(future);
    }
  }

  public List<CompletableFuture<Object>> futures() {
    return futures;
  }

  @Override
  public void close() {
    CURRENT.set(outer);
  }
}
