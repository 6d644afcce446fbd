package dev.entanglement.benchmarks.profile;

import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.DbSettings;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * What the capture's one extra statement costs the database alone, in plain JDBC (no Hibernate,
 * no plugin): a single-row insert and commit, then the same with the bookkeeping upsert the plugin
 * writes today (composite text key, plus its (owner, serial) index), then with an append-only row
 * keyed by a long instead (the shape of the change log the capture could write and fold later).
 * Not part of the report: a measurement for a design decision (issue 15). Run:
 *
 * <pre>{@code
 * mvn -B -q -DskipTests install
 * mvn -B -q -pl benchmarks exec:java -Dexec.mainClass=dev.entanglement.benchmarks.profile.BookkeepingCost -Dexec.args=5
 * }</pre>
 */
public final class BookkeepingCost {
  private BookkeepingCost() {}

  private enum Variant { ROW_ONLY, BOOKKEEPING_UPSERT, LOG_APPEND }

  public static void main(String[] args) throws Exception {
    long seconds = args.length > 0 ? Long.parseLong(args[0]) : 5;
    try {
      for (Db db : new Db[] {Db.H2, Db.POSTGRESQL}) {
        DbSettings settings = db.fresh("bkcost");
        try (Connection c = settings.connect()) {
          create(c, db);
          preload(c, db, 100_000);
          for (int round = 0; round < 3; round++) {
            for (Variant variant : Variant.values()) {
              double micros = run(c, db, variant, seconds * 1_000_000_000L / (round == 0 ? 4 : 1));
              if (round > 0) {
                System.out.printf("%s %-20s round %d: %.1f us per transaction%n", db, variant, round, micros);
              }
            }
          }
        } finally {
          settings.dispose();
        }
      }
    } finally {
      Db.stopPostgres();
    }
  }

  private static void create(Connection c, Db db) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("CREATE TABLE app_row (id UUID PRIMARY KEY, name VARCHAR(255), quantity INT)");
      s.execute("CREATE TABLE bookkeeping (entity_name VARCHAR(255) NOT NULL, object_id VARCHAR(255) NOT NULL, "
          + "owner_node VARCHAR(64) NOT NULL, serial BIGINT NOT NULL, deleted BOOLEAN NOT NULL, pending_change BIGINT, "
          + "epoch BIGINT DEFAULT 0 NOT NULL, handover_to VARCHAR(64), PRIMARY KEY (entity_name, object_id))");
      s.execute("CREATE INDEX bookkeeping_owner_serial ON bookkeeping (owner_node, serial)");
      s.execute("CREATE TABLE change_log (serial BIGINT PRIMARY KEY, entity_name VARCHAR(255) NOT NULL, "
          + "object_id VARCHAR(255) NOT NULL, deleted BOOLEAN NOT NULL)");
    }
  }

  private static long serial;

  private static void preload(Connection c, Db db, int rows) throws SQLException {
    c.setAutoCommit(false);
    try (PreparedStatement p = c.prepareStatement(upsert(db))) {
      for (int i = 0; i < rows; i++) {
        bind(p, UUID.randomUUID().toString());
        p.addBatch();
        if (i % 1000 == 999) {
          p.executeBatch();
          c.commit();
        }
      }
      p.executeBatch();
      c.commit();
    }
  }

  private static String upsert(Db db) {
    return db == Db.H2
        ? "MERGE INTO bookkeeping (entity_name, object_id, owner_node, serial, deleted, pending_change) KEY "
            + "(entity_name, object_id) VALUES (?, ?, ?, ?, ?, ?)"
        : "INSERT INTO bookkeeping (entity_name, object_id, owner_node, serial, deleted, pending_change) VALUES "
            + "(?, ?, ?, ?, ?, ?) ON CONFLICT (entity_name, object_id) DO UPDATE SET owner_node = EXCLUDED.owner_node, "
            + "serial = EXCLUDED.serial, deleted = EXCLUDED.deleted, pending_change = EXCLUDED.pending_change";
  }

  private static void bind(PreparedStatement p, String id) throws SQLException {
    p.setString(1, "BenchItem");
    p.setString(2, id);
    p.setString(3, "source");
    p.setLong(4, ++serial);
    p.setBoolean(5, false);
    p.setNull(6, java.sql.Types.BIGINT);
  }

  private static double run(Connection c, Db db, Variant variant, long nanos) throws SQLException {
    c.setAutoCommit(false);
    long count = 0;
    long start = System.nanoTime();
    try (PreparedStatement row = c.prepareStatement("INSERT INTO app_row (id, name, quantity) VALUES (?, ?, ?)");
        PreparedStatement bookkeeping = c.prepareStatement(upsert(db));
        PreparedStatement log = c.prepareStatement(
            "INSERT INTO change_log (serial, entity_name, object_id, deleted) VALUES (?, ?, ?, ?)")) {
      while (System.nanoTime() - start < nanos) {
        UUID id = UUID.randomUUID();
        row.setObject(1, id);
        row.setString(2, "item");
        row.setInt(3, 1);
        row.executeUpdate();
        if (variant == Variant.BOOKKEEPING_UPSERT) {
          bind(bookkeeping, id.toString());
          bookkeeping.executeUpdate();
        } else if (variant == Variant.LOG_APPEND) {
          log.setLong(1, ++serial);
          log.setString(2, "BenchItem");
          log.setString(3, id.toString());
          log.setBoolean(4, false);
          log.executeUpdate();
        }
        c.commit();
        count++;
      }
    }
    return (System.nanoTime() - start) / 1e3 / count;
  }
}
