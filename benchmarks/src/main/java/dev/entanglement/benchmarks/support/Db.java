package dev.entanglement.benchmarks.support;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The databases the scenarios run against: H2 in memory, and one embedded PostgreSQL server per
 * run (a fresh database per node) with durable commits.
 */
public enum Db {
  H2("H2") {
    @Override
    public DbSettings fresh(String prefix) {
      String name = prefix + "_" + COUNTER.incrementAndGet();
      return new DbSettings(this, name, "jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1", "sa", "");
    }

    @Override
    void dispose(DbSettings settings) {
      try (Connection c = settings.connect(); Statement s = c.createStatement()) {
        s.execute("SHUTDOWN");
      } catch (SQLException e) {
        throw new IllegalStateException("could not drop " + settings.name(), e);
      }
    }
  },
  POSTGRESQL("PostgreSQL") {
    @Override
    public DbSettings fresh(String prefix) {
      String name = (prefix + "_" + COUNTER.incrementAndGet()).toLowerCase(Locale.ROOT);
      EmbeddedPostgres server = postgres();
      try (Connection c = server.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
        s.execute("CREATE DATABASE " + name);
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
      return new DbSettings(this, name, server.getJdbcUrl("postgres", name), "postgres", "postgres");
    }

    @Override
    void dispose(DbSettings settings) {
      try (Connection c = postgres().getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
        s.execute("DROP DATABASE IF EXISTS " + settings.name() + " WITH (FORCE)");
      } catch (SQLException e) {
        throw new IllegalStateException("could not drop " + settings.name(), e);
      }
    }
  };

  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static EmbeddedPostgres postgres;

  private final String label;

  Db(String label) {
    this.label = label;
  }

  /** Connection settings of a new, empty database. */
  public abstract DbSettings fresh(String prefix);

  abstract void dispose(DbSettings settings);

  @Override
  public String toString() {
    return label;
  }

  /**
   * The run's PostgreSQL server, started on first use with {@code fsync} and
   * {@code synchronous_commit} on: zonky's defaults turn both off, which makes single-row
   * commits about 3x faster than any durable deployment (limits-measured.md).
   */
  public static synchronized EmbeddedPostgres postgres() {
    if (postgres == null) {
      try {
        File dir = new File(System.getProperty("java.io.tmpdir"), "entanglement-bench-pg");
        dir.mkdirs();
        postgres = EmbeddedPostgres.builder()
            .setOverrideWorkingDirectory(dir)
            .setServerConfig("fsync", "on")
            .setServerConfig("synchronous_commit", "on")
            .start();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return postgres;
  }

  /** The server's version and durability settings, read back from the server itself. */
  public static String postgresDescription() {
    try (Connection c = postgres().getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
      return "%s; fsync=%s, synchronous_commit=%s, wal_level=%s, shared_buffers=%s".formatted(
          single(s, "SELECT version()"), single(s, "SHOW fsync"), single(s, "SHOW synchronous_commit"),
          single(s, "SHOW wal_level"), single(s, "SHOW shared_buffers"));
    } catch (SQLException e) {
      return "unknown (" + e.getMessage() + ")";
    }
  }

  private static String single(Statement s, String sql) throws SQLException {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  /** Stops the server if this run started it. */
  public static synchronized void stopPostgres() {
    if (postgres != null) {
      try {
        postgres.close();
      } catch (IOException e) {
        System.err.println("could not stop PostgreSQL: " + e);
      }
      postgres = null;
    }
  }
}
