package dev.entanglement.hibernate.internal.store;

import java.sql.SQLException;
import org.hibernate.JDBCException;

/** Turns a database failure into the one line a rejection message quotes. */
public final class SqlErrors {
  private SqlErrors() {}

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
