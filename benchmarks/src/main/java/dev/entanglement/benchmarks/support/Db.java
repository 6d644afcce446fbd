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
 * run (a fresh database per node) with durable commits; a second one with logical decoding for
 * the Debezium comparison.
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
      return freshOn(postgres(), this, prefix);
    }

    @Override
    void dispose(DbSettings settings) {
      disposeOn(postgres(), settings);
    }
  },
  /**
   * A second server of the same build and durability, with {@code wal_level=logical} (which
   * Debezium's PostgreSQL connector needs), started only by the scenario that compares with
   * Debezium: the other scenarios keep the server their earlier figures were taken on.
   */
  POSTGRESQL_LOGICAL("PostgreSQL (wal_level=logical)") {
    @Override
    public DbSettings fresh(String prefix) {
      return freshOn(logicalPostgres(), this, prefix);
    }

    @Override
    void dispose(DbSettings settings) {
      disposeOn(logicalPostgres(), settings);
    }
  };

  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static EmbeddedPostgres postgres;
  private static EmbeddedPostgres logicalPostgres;

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

  private static DbSettings freshOn(EmbeddedPostgres server, Db db, String prefix) {
    String name = (prefix + "_" + COUNTER.incrementAndGet()).toLowerCase(Locale.ROOT);
    try (Connection c = server.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
    return new DbSettings(db, name, server.getJdbcUrl("postgres", name), "postgres", "postgres");
  }

  private static void disposeOn(EmbeddedPostgres server, DbSettings settings) {
    try (Connection c = server.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + settings.name() + " WITH (FORCE)");
    } catch (SQLException e) {
      throw new IllegalStateException("could not drop " + settings.name(), e);
    }
  }

  /**
   * The run's PostgreSQL server, started on first use with {@code fsync} and
   * {@code synchronous_commit} on: zonky's defaults turn both off, which makes single-row
   * commits about 3x faster than any durable deployment (limits-measured.md).
   */
  public static synchronized EmbeddedPostgres postgres() {
    if (postgres == null) {
      postgres = start("entanglement-bench-pg", false);
    }
    return postgres;
  }

  /**
   * The server of {@link #POSTGRESQL_LOGICAL}: the same durable settings plus
   * {@code wal_level=logical}; started on first use, stopped by {@link #stopLogicalPostgres()}.
   */
  public static synchronized EmbeddedPostgres logicalPostgres() {
    if (logicalPostgres == null) {
      logicalPostgres = start("entanglement-bench-pg-logical", true);
    }
    return logicalPostgres;
  }

  private static EmbeddedPostgres start(String directory, boolean logical) {
    try {
      File dir = new File(System.getProperty("java.io.tmpdir"), directory);
      dir.mkdirs();
      EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
          .setOverrideWorkingDirectory(dir)
          .setServerConfig("fsync", "on")
          .setServerConfig("synchronous_commit", "on");
      if (logical) {
        builder.setServerConfig("wal_level", "logical");
      }
      return builder.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The server's version and durability settings, read back from the server itself. */
  public static String postgresDescription() {
    return describe(postgres());
  }

  /** As {@link #postgresDescription()}, for the server of {@link #POSTGRESQL_LOGICAL}. */
  public static String logicalPostgresDescription() {
    return describe(logicalPostgres());
  }

  private static String describe(EmbeddedPostgres server) {
    try (Connection c = server.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
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

  /** Stops the servers this run started. */
  public static synchronized void stopPostgres() {
    if (postgres != null) {
      stop(postgres);
      postgres = null;
    }
    stopLogicalPostgres();
  }

  /** Stops the {@code wal_level=logical} server if it runs (its scenario is over). */
  public static synchronized void stopLogicalPostgres() {
    if (logicalPostgres != null) {
      stop(logicalPostgres);
      logicalPostgres = null;
    }
  }

  private static void stop(EmbeddedPostgres server) {
    try {
      server.close();
    } catch (IOException e) {
      System.err.println("could not stop PostgreSQL: " + e);
    }
  }
}
