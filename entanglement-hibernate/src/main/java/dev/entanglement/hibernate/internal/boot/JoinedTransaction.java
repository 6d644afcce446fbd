package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.EntanglementException;
import dev.entanglement.hibernate.internal.ownership.RequestScope;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.hibernate.Session;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.resource.transaction.spi.TransactionCoordinator;
import org.hibernate.resource.transaction.spi.TransactionObserver;

/**
 * The API calls ({@code update}, {@code delete}, {@code create}) that joined one application
 * transaction (see {@link dev.entanglement.hibernate.CallerTransactions}), and their futures.
 * A request scope stays open on the thread from the first call to the transaction's end, so the
 * update requests the commit forwards are collected; the calls' futures complete after the
 * commit. A transaction observer, because Hibernate calls observers after the action queue's
 * after-completion work (where capture forwards the requests), and synchronizations before it.
 *
 * <h2>Concurrency</h2>
 * Thread-confined: resource-local transactions (Spring's JpaTransactionManager) begin, run and
 * complete on the caller's thread. One instance per transaction, found through a thread local.
 */
final class JoinedTransaction implements TransactionObserver {
  private static final ThreadLocal<JoinedTransaction> CURRENT = new ThreadLocal<>();

  private final Session session;
  private final String nodeName;
  private final TransactionCoordinator coordinator;
  private final RequestScope scope;
  private final JoinedTransaction outer;
  private final List<Call<?>> calls = new ArrayList<>();

  private record Call<T>(T result, CompletableFuture<T> future) {
    void complete() {
      future.complete(result);
    }

    @SuppressWarnings("unchecked")
    void completeWith(Object ownersCopy) {
      future.complete((T) ownersCopy);
    }
  }

  private JoinedTransaction(Session session, String nodeName) {
    this.session = session;
    this.nodeName = nodeName;
    this.coordinator = ((SharedSessionContractImplementor) session).getTransactionCoordinator();
    this.outer = CURRENT.get();
    this.scope = RequestScope.open();
    CURRENT.set(this);
    coordinator.addObserver(this);
  }

  /** The calls joined to the transaction of {@code session} so far on this thread, new if none. */
  static JoinedTransaction of(Session session, String nodeName) {
    JoinedTransaction current = CURRENT.get();
    return current != null && current.session == session ? current : new JoinedTransaction(session, nodeName);
  }

  /** A future completed with {@code result} once the transaction commits and its requests succeed. */
  <T> CompletableFuture<T> afterCommit(T result) {
    CompletableFuture<T> future = new CompletableFuture<>();
    calls.add(new Call<>(result, future));
    return future;
  }

  @Override
  public void afterBegin() {}

  @Override
  public void beforeCompletion() {}

  @Override
  public void afterCompletion(boolean successful, boolean delayed) {
    coordinator.removeObserver(this);
    List<CompletableFuture<Object>> requests = List.copyOf(scope.futures());
    scope.close();
    if (outer == null) {
      CURRENT.remove();
    } else {
      CURRENT.set(outer);
    }
    if (!successful) {
      EntanglementException rolledBack = new EntanglementException(("the caller's transaction at node '%s' rolled "
          + "back: nothing of this call was written or sent").formatted(nodeName));
      calls.forEach(call -> call.future().completeExceptionally(rolledBack));
      return;
    }
    if (requests.isEmpty()) {
      calls.forEach(Call::complete);
      return;
    }
    // one call that made one request: its future is that request's, as outside a transaction
    boolean single = calls.size() == 1 && requests.size() == 1;
    EntanglementNode.allOf(requests).whenComplete((results, failure) -> {
      for (Call<?> call : calls) {
        if (failure != null) {
          call.future().completeExceptionally(failure);
        } else if (single) {
          call.completeWith(results.get(0));
        } else {
          call.complete();
        }
      }
    });
  }
}
