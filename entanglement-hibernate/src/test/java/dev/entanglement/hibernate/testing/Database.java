package dev.entanglement.hibernate.testing;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The databases tests run against: H2 in memory (the embedded default), a real PostgreSQL
 * (embedded, one server per test JVM, a fresh database per node) and a real MariaDB (Debian's
 * mariadbd, one server per test JVM, a fresh database per node; see {@link MariaDbServer}).
 */
public enum Database {
  H2 {
    @Override
    public Map<String, Object> freshDatabase(String prefix) {
      String name = prefix + "_" + COUNTER.incrementAndGet();
      return Map.of(
          "jakarta.persistence.jdbc.url", "jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1",
          "jakarta.persistence.jdbc.user", "sa",
          "jakarta.persistence.jdbc.password", "");
    }
  },
  POSTGRESQL {
    @Override
    public Map<String, Object> freshDatabase(String prefix) {
      String name = (prefix + "_" + COUNTER.incrementAndGet()).toLowerCase(java.util.Locale.ROOT).replace('-', '_');
      EmbeddedPostgres server = postgres();
      try (Connection c = server.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
        s.execute("CREATE DATABASE " + name);
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
      return Map.of(
          "jakarta.persistence.jdbc.url", server.getJdbcUrl("postgres", name),
          "jakarta.persistence.jdbc.user", "postgres",
          "jakarta.persistence.jdbc.password", "postgres");
    }
  },
  MARIADB {
    @Override
    public Map<String, Object> freshDatabase(String prefix) {
      String name = (prefix + "_" + COUNTER.incrementAndGet()).toLowerCase(java.util.Locale.ROOT).replace('-', '_');
      MariaDbServer server = MariaDbServer.get();
      server.createDatabase(name);
      return Map.of(
          "jakarta.persistence.jdbc.url", server.jdbcUrl(name),
          "jakarta.persistence.jdbc.user", "root",
          "jakarta.persistence.jdbc.password", "");
    }
  };

  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static EmbeddedPostgres postgres;

  /** Connection settings of a new, empty database. */
  public abstract Map<String, Object> freshDatabase(String prefix);

  /** The one embedded PostgreSQL server of this JVM, started on first use. */
  public static synchronized EmbeddedPostgres postgres() {
    if (postgres == null) {
      try {
        File dir = new File(System.getProperty("java.io.tmpdir"), "embedded-pg");
        dir.mkdirs();
        postgres = EmbeddedPostgres.builder().setOverrideWorkingDirectory(dir).start();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          postgres.close();
        } catch (IOException ignored) {
          // the JVM is exiting
        }
      }));
    }
    return postgres;
  }
}
