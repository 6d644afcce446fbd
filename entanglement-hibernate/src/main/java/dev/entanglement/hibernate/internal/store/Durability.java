package dev.entanglement.hibernate.internal.store;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;

/**
 * Checks that the database keeps a commit once it has returned: an H2 file database with a write
 * delay (H2's default is 500 ms) can lose commits the application and its peers already saw when
 * the process is killed, and a node that lost its own commits makes its peers hold states it no
 * longer has. Stateless.
 */
public final class Durability {
  private Durability() {}

  /** Why commits on this connection's database may not be durable, with the fix; null if they are. */
  public static String problem(Connection connection) throws SQLException {
    String url = connection.getMetaData().getURL();
    String lower = url == null ? "" : url.toLowerCase(Locale.ROOT);
    if (!lower.startsWith("jdbc:h2:") || lower.startsWith("jdbc:h2:mem:")) {
      return null;
    }
    long delay;
    try (Statement statement = connection.createStatement();
        ResultSet row = statement.executeQuery(
            "SELECT SETTING_VALUE FROM INFORMATION_SCHEMA.SETTINGS WHERE SETTING_NAME = 'WRITE_DELAY'")) {
      if (!row.next()) {
        return null;
      }
      delay = Long.parseLong(row.getString(1).trim());
    }
    if (delay <= 0) {
      return null;
    }
    return ("the H2 database %s writes commits to disk up to %d ms after they return (WRITE_DELAY=%d): a crash "
        + "or kill can lose commits the application and its peers already saw. Add ;WRITE_DELAY=0 to the JDBC URL")
        .formatted(url, delay, delay);
  }
}
