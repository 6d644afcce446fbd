package dev.entanglement.benchmarks.support;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Map;

/**
 * The connection settings of one fresh database, handed both to Hibernate and to the raw JDBC
 * code of a scenario (baselines, the visibility poller).
 *
 * @param db which kind of database
 * @param name the database's name, unique in this run
 * @param url its JDBC URL
 */
public record DbSettings(Db db, String name, String url, String user, String password) {

  /** The properties a persistence unit needs to use this database. */
  public Map<String, Object> properties() {
    return Map.of(
        "jakarta.persistence.jdbc.url", url,
        "jakarta.persistence.jdbc.user", user,
        "jakarta.persistence.jdbc.password", password);
  }

  /** A new autocommit connection, owned by the caller. */
  public Connection connect() throws SQLException {
    return DriverManager.getConnection(url, user, password);
  }

  /**
   * Frees the database once no node uses it: an in-memory H2 database would otherwise keep its
   * rows on the heap for the rest of the run ({@code DB_CLOSE_DELAY=-1}) and skew later
   * scenarios and the memory figures.
   */
  public void dispose() {
    db.dispose(this);
  }
}
