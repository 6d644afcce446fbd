package dev.entanglement.hibernate.internal.capture;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.engine.spi.TransactionCompletionCallbacks.AfterCompletionCallback;
import org.hibernate.engine.spi.TransactionCompletionCallbacks.BeforeCompletionCallback;

/**
 * The {@link TransactionChanges} of each open transaction, by session: created on a
 * transaction's first captured change or update request, registered for its completion, and
 * forgotten when it completes. Shared by the {@link CaptureListener} and the
 * {@link OwnershipGuard}, so a transaction's changes and requests go out together.
 *
 * <h2>Concurrency</h2>
 * {@code open} is a concurrent map; each entry is created, used and removed on its session's
 * thread. Its size is bounded by the sessions with an open transaction that wrote a replicated
 * entity.
 */
public final class OpenTransactions {
  private final Map<SharedSessionContractImplementor, TransactionChanges> open = new ConcurrentHashMap<>();

  /** The changes of the session's current transaction, created and registered on first use. */
  TransactionChanges of(SharedSessionContractImplementor session, CaptureSink sink) {
    TransactionChanges changes = open.get(session);
    if (changes == null) {
      changes = new TransactionChanges(sink, () -> open.remove(session));
      open.put(session, changes);
      session.getTransactionCompletionCallbacks().registerCallback((BeforeCompletionCallback) changes);
      session.getTransactionCompletionCallbacks().registerCallback((AfterCompletionCallback) changes);
    }
    return changes;
  }
}
