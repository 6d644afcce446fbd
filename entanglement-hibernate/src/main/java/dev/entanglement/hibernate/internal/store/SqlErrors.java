package dev.entanglement.hibernate.internal.store;

import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;
import java.util.Set;
import org.hibernate.JDBCException;
import org.hibernate.PessimisticLockException;
import org.hibernate.QueryTimeoutException;
import org.hibernate.exception.JDBCConnectionException;
import org.hibernate.exception.LockAcquisitionException;

/**
 * Reads database failures: the one line a rejection message quotes, and whether a failure is
 * transient (worth trying again later) rather than a verdict on the data.
 */
public final class SqlErrors {
  /**
   * SQLState classes of failures that say nothing about the data: connection exceptions (08),
   * transaction rollback such as deadlocks and serialization failures (40), insufficient
   * resources (53), operator intervention such as a cancelled query or a shutdown (57).
   */
  private static final Set<String> TRANSIENT_STATE_CLASSES = Set.of("08", "40", "53", "57");
  /** H2's error codes of the same kinds: lock timeout, deadlock, connection broken, database closed. */
  private static final Set<Integer> H2_TRANSIENT_CODES = Set.of(50200, 40001, 90067, 90098, 90121);
  /**
   * MariaDB's and MySQL's error codes of the same kinds (many come with the catch-all SQLState
   * HY000): lock wait timeout (1205), deadlock (1213),
   * record changed since read under snapshot isolation (1020), too many connections (1040, 1203),
   * server shutting down (1053), connection aborted or network read/write failures (1152 to 1161),
   * query interrupted or connection killed (1317, 1927), statement time limit reached (1969, 3024),
   * server unreachable, gone away or lost during a query (2002, 2003, 2006, 2013), disconnected
   * for inactivity (4031).
   */
  private static final Set<Integer> MARIADB_TRANSIENT_CODES = Set.of(1205, 1213, 1020, 1040, 1203, 1053, 1152,
      1153, 1154, 1155, 1156, 1157, 1158, 1159, 1160, 1161, 1317, 1927, 1969, 3024, 2002, 2003, 2006, 2013, 4031);
  /** MariaDB's and MySQL's duplicate key errors (SQLState 23000, shared with other constraint violations). */
  private static final Set<Integer> MARIADB_DUPLICATE_KEY_CODES = Set.of(1062, 1586);

  private SqlErrors() {}

  /**
   * Whether a failure is transient: the database (or the way to it) failed, not the data, so
   * the same work may succeed later. Connection pools that run dry (Hibernate's own says "the
   * internal connection pool has reached its maximum size"; others throw a
   * {@link SQLTransientException}) count as transient.
   */
  public static boolean isTransient(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof SQLTransientException || t instanceof SQLRecoverableException
          || t instanceof SQLNonTransientConnectionException || t instanceof JDBCConnectionException
          || t instanceof LockAcquisitionException || t instanceof PessimisticLockException
          || t instanceof QueryTimeoutException || t instanceof jakarta.persistence.LockTimeoutException
          || t instanceof jakarta.persistence.PessimisticLockException
          || t instanceof jakarta.persistence.QueryTimeoutException) {
        return true;
      }
      SQLException sql = t instanceof JDBCException jdbc ? jdbc.getSQLException() : t instanceof SQLException e ? e : null;
      if (sql != null) {
        String state = sql.getSQLState();
        if (state != null && state.length() >= 2 && TRANSIENT_STATE_CLASSES.contains(state.substring(0, 2))
            || "HYT00".equals(state) || "HYT01".equals(state) || H2_TRANSIENT_CODES.contains(sql.getErrorCode())
            || fromMariaDb(sql) && MARIADB_TRANSIENT_CODES.contains(sql.getErrorCode())) {
          return true;
        }
      }
      String message = t.getMessage();
      if (message != null && message.contains("connection pool") && message.contains("maximum size")) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether a failure is a unique or primary key violation: SQLState 23505 on H2 and PostgreSQL,
   * a duplicate key error on MariaDB and MySQL.
   */
  public static boolean isUniqueViolation(SQLException failure) {
    for (SQLException e = failure; e != null; e = e.getNextException()) {
      if ("23505".equals(e.getSQLState()) || fromMariaDb(e) && MARIADB_DUPLICATE_KEY_CODES.contains(e.getErrorCode())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether the exception may carry a MariaDB or MySQL server error code. Their drivers throw the
   * JDK's own SQLException classes, so the code itself tells: PostgreSQL's driver gives 0, and none
   * of H2's codes (2000, 7001, 8000, then 21002 and up) falls in MariaDB's ranges read here.
   */
  private static boolean fromMariaDb(SQLException e) {
    int code = e.getErrorCode();
    return code >= 1000 && code < 5000 && code != 2000;
  }

  /** The first line of the database's own message, or null when the failure is not the database's. */
  public static String message(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      String message = t instanceof JDBCException jdbc ? jdbc.getSQLException().getMessage()
          : t instanceof SQLException sql ? sql.getMessage() : null;
      if (message != null) {
        int newline = message.indexOf('\n');
        String line = newline < 0 ? message : message.substring(0, newline);
        return line.length() > 300 ? line.substring(0, 297) + "..." : line;
      }
    }
    return null;
  }
}
