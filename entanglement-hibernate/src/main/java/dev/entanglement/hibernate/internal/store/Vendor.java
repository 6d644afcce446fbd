package dev.entanglement.hibernate.internal.store;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.hibernate.dialect.Dialect;
import org.hibernate.dialect.H2Dialect;
import org.hibernate.dialect.MySQLDialect;
import org.hibernate.dialect.PostgreSQLDialect;

/**
 * The databases the plugin's own SQL is written for, and the few places where that SQL differs:
 * upserts, the database's clock, where the migrations live. MariaDB and MySQL share one kind:
 * Hibernate's MariaDBDialect extends its MySQLDialect, and the statements used here are common to
 * both. Immutable.
 */
public enum Vendor {
  H2("CURRENT_TIMESTAMP"),
  POSTGRESQL("CURRENT_TIMESTAMP"),
  /**
   * MariaDB and MySQL. Their {@code CURRENT_TIMESTAMP} is in whole seconds and in the session's
   * time zone: the lease's clock is {@code UTC_TIMESTAMP(6)} into {@code DATETIME(6)} columns
   * (microseconds, no daylight-saving jumps, no 2038 limit of {@code TIMESTAMP}).
   */
  MARIADB("UTC_TIMESTAMP(6)");

  /** The databases the plugin supports, for messages. */
  public static final String SUPPORTED = "H2 (H2Dialect), PostgreSQL (PostgreSQLDialect), "
      + "MariaDB (MariaDBDialect) and MySQL (MySQLDialect)";

  private final String now;

  Vendor(String now) {
    this.now = now;
  }

  /**
   * @throws EntanglementConfigurationException for a database the plugin does not support, naming
   *     the dialect and the supported ones
   */
  public static Vendor of(Dialect dialect) {
    if (dialect instanceof H2Dialect) {
      return H2;
    }
    if (dialect instanceof PostgreSQLDialect) {
      return POSTGRESQL;
    }
    if (dialect instanceof MySQLDialect) { // MariaDBDialect included
      return MARIADB;
    }
    throw new EntanglementConfigurationException(("the database dialect %s is not supported by "
        + "Entanglement; supported: %s").formatted(dialect.getClass().getName(), SUPPORTED));
  }

  /** The SQL expression of the database's current time, as the lease's timestamp columns hold it. */
  public String now() {
    return now;
  }

  /**
   * An upsert of one row: inserts it, or updates {@code values} of the row with the same
   * {@code keys} (the table's primary key; on MariaDB no other unique key may exist).
   */
  public String upsert(String table, List<String> keys, List<String> values) {
    List<String> columns = new ArrayList<>(keys);
    columns.addAll(values);
    String names = String.join(", ", columns);
    String placeholders = String.join(", ", Collections.nCopies(columns.size(), "?"));
    return switch (this) {
      case H2 -> "MERGE INTO %s (%s) KEY (%s) VALUES (%s)".formatted(table, names, String.join(", ", keys),
          placeholders);
      case POSTGRESQL -> "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s".formatted(table, names,
          placeholders, String.join(", ", keys),
          String.join(", ", values.stream().map(v -> v + " = EXCLUDED." + v).toList()));
      // VALUES(col) is MariaDB's form; MySQL 8 still accepts it (deprecated there for an alias)
      case MARIADB -> "INSERT INTO %s (%s) VALUES (%s) ON DUPLICATE KEY UPDATE %s".formatted(table, names,
          placeholders, String.join(", ", values.stream().map(v -> v + " = VALUES(" + v + ")").toList()));
    };
  }
}
