package dev.entanglement.benchmarks;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementSettings;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.hibernate.jpa.HibernatePersistenceConfiguration;

/** Builds the benchmark's nodes: H2 in memory or a real PostgreSQL with durable commits. */
final class Nodes {
  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static EmbeddedPostgres postgres;

  private Nodes() {}

  enum Db { H2, POSTGRESQL }

  /** PostgreSQL with fsync and synchronous_commit on (zonky's defaults turn both off). */
  static synchronized EmbeddedPostgres postgres() {
    if (postgres == null) {
      try {
        File dir = new File(System.getProperty("java.io.tmpdir"), "entanglement-bench-pg");
        dir.mkdirs();
        postgres = EmbeddedPostgres.builder().setOverrideWorkingDirectory(dir)
            .setServerConfig("fsync", "on").setServerConfig("synchronous_commit", "on").start();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return postgres;
  }

  static void stopPostgres() throws IOException {
    if (postgres != null) {
      postgres.close();
      postgres = null;
    }
  }

  static Map<String, Object> database(Db db, String prefix) {
    String name = prefix + "_" + COUNTER.incrementAndGet();
    Map<String, Object> settings = new HashMap<>();
    if (db == Db.H2) {
      settings.put("jakarta.persistence.jdbc.url", "jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1");
      settings.put("jakarta.persistence.jdbc.user", "sa");
      settings.put("jakarta.persistence.jdbc.password", "");
    } else {
      try (Connection c = postgres().getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
        s.execute("CREATE DATABASE " + name);
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
      settings.put("jakarta.persistence.jdbc.url", postgres().getJdbcUrl("postgres", name));
      settings.put("jakarta.persistence.jdbc.user", "postgres");
      settings.put("jakarta.persistence.jdbc.password", "postgres");
    }
    return settings;
  }

  /** A persistence unit with BenchItem; with a node name the plugin runs, without it it does not. */
  static EntityManagerFactory start(Map<String, Object> database, String node, Map<String, String> extra) {
    HibernatePersistenceConfiguration configuration = new HibernatePersistenceConfiguration(
        node == null ? "plain" : node).managedClass(BenchItem.class);
    database.forEach(configuration::property);
    configuration.property("hibernate.hbm2ddl.auto", "create");
    configuration.property("hibernate.connection.pool_size", "8");
    if (node != null) {
      configuration.property(EntanglementSettings.NODE_NAME, node);
    }
    extra.forEach(configuration::property);
    return configuration.createEntityManagerFactory();
  }

  static void inTransaction(EntityManagerFactory factory, Consumer<EntityManager> work) {
    EntityManager em = factory.createEntityManager();
    try {
      em.getTransaction().begin();
      work.accept(em);
      em.getTransaction().commit();
    } finally {
      if (em.getTransaction().isActive()) {
        em.getTransaction().rollback();
      }
      em.close();
    }
  }

  static long count(EntityManagerFactory factory, String sql) {
    EntityManager em = factory.createEntityManager();
    try {
      Object value = em.createNativeQuery(sql).getSingleResult();
      return value == null ? 0 : ((Number) value).longValue();
    } finally {
      em.close();
    }
  }

  static void awaitConnected(EntityManagerFactory factory, String peer) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!Entanglement.of(factory).connectedPeers().contains(peer)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("not connected to " + peer);
      }
      TimeUnit.MILLISECONDS.sleep(5);
    }
  }

  static void caughtUp(EntityManagerFactory factory, String peer) throws Exception {
    Entanglement.of(factory).caughtUp(peer).get(10, TimeUnit.MINUTES);
  }
}
