package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.store.ConnectionBudget;
import java.sql.Connection;
import java.sql.SQLException;
import org.hibernate.StatelessSession;
import org.hibernate.Transaction;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.hibernate.jdbc.ReturningWork;

/**
 * Opens the database transactions of the apply path: each is one stateless session (whose
 * writes capture ignores, so nothing applied here echoes back), with its JDBC connection for the
 * bookkeeping written in the same transaction. Nothing else in the package opens sessions.
 *
 * <p>Immutable, so thread-safe; every call has a session of its own.
 */
final class Transactions {
  /** Work inside one transaction of a stateless session, on its JDBC connection. */
  @FunctionalInterface
  interface Work {
    void run(StatelessSession session, Connection connection) throws SQLException;
  }

  /**
   * Entity writes of one applied batch go to the database in JDBC batches of this many (unless the
   * application configured larger ones): a received batch of new objects costs a few round trips,
   * not one per object. Reads in the same transaction run the pending ones first
   * ({@link EntityWriter#read}): a stateless session's own reads do not.
   */
  static final int APPLY_JDBC_BATCH = 64;

  private final SessionFactoryImplementor factory;

  Transactions(SessionFactoryImplementor factory) {
    this.factory = factory;
  }

  /** Runs the work in one transaction: committed when it returns, rolled back when it throws. */
  void inTransaction(Work work) throws SQLException {
    try (var permit = ConnectionBudget.of(factory).enter(); StatelessSession session = factory.openStatelessSession()) {
      if (session.getJdbcBatchSize() == null || session.getJdbcBatchSize() < APPLY_JDBC_BATCH) {
        session.setJdbcBatchSize(APPLY_JDBC_BATCH);
      }
      Transaction tx = session.beginTransaction();
      try {
        Connection connection = session.doReturningWork(c -> c);
        work.run(session, connection);
        tx.commit();
      } catch (RuntimeException | SQLException e) {
        if (tx.isActive()) {
          tx.rollback();
        }
        throw e;
      }
    }
  }

  /** Reads on a connection of its own, outside any transaction of this package. */
  <T> T read(ReturningWork<T> work) {
    try (var permit = ConnectionBudget.of(factory).enter(); StatelessSession session = factory.openStatelessSession()) {
      return session.doReturningWork(work);
    }
  }
}
