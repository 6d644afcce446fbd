package dev.entanglement.hibernate;

import java.util.Optional;
import org.hibernate.Session;
import org.hibernate.SessionFactory;

/**
 * Finds the transaction an application runs on the calling thread (for example one of Spring's
 * {@code @Transactional} methods), so that {@link Entanglement#update}, {@link Entanglement#delete}
 * and {@link Entanglement#create} for this node join it: the write happens in the caller's
 * session and transaction, and the network part (update requests to other owners, publication to
 * peers) after its commit. Without it those calls open a transaction of their own, which waits on
 * the row locks the caller's transaction holds (on PostgreSQL it waits until the caller commits,
 * which it never does while it waits for the call).
 *
 * <p>Set under {@link EntanglementSettings#CALLER_TRANSACTIONS}. The Spring Boot starter
 * registers one that returns the session bound to Spring's transaction.
 *
 * <p>A joined call returns a future that completes after the caller's transaction commits: with
 * the object once every update request the transaction made has succeeded (at once after commit
 * if it made none), or with the first failure; it fails with an {@link EntanglementException} if
 * the transaction rolls back. {@link Entanglement#transfer} and {@code create} for another owner
 * cannot join (they write in a transaction of their own): called while a caller's transaction is
 * active they fail at once, saying so.
 *
 * <p>Called on the application's thread at each of those calls; must be thread-safe and must not
 * block.
 */
@FunctionalInterface
public interface CallerTransactions {

  /**
   * The session whose transaction is active on the calling thread for {@code factory}, or empty
   * when the caller runs none (the call then opens a transaction of its own).
   */
  Optional<Session> current(SessionFactory factory);
}
