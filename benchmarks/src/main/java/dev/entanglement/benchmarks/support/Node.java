package dev.entanglement.benchmarks.support;

import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.PeerStatus;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.hibernate.jpa.HibernatePersistenceConfiguration;

/**
 * One persistence unit with {@link BenchItem}: a node when it has a name (the plugin runs), a
 * plain Hibernate application when it has none (the baseline). Closing it closes the factory;
 * the database outlives it until {@link DbSettings#dispose()}.
 */
public final class Node implements AutoCloseable {
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration CATCH_UP_TIMEOUT = Duration.ofMinutes(5);

  private final String name;
  private final DbSettings db;
  private final EntityManagerFactory factory;

  private Node(String name, DbSettings db, EntityManagerFactory factory) {
    this.name = name;
    this.db = db;
    this.factory = factory;
  }

  /** Hibernate alone: the same entity and database settings, without {@code entanglement.node.name}. */
  public static Node plain(DbSettings db, Map<String, String> properties) {
    return new Node(null, db, build("plain", db, properties, List.of(BenchItem.class)));
  }

  /**
   * With {@code -Dentanglement.bench.signing=true}, every node gets a certificate from one
   * development CA (mutual TLS over Netty instead of plaintext, and in-process too), so signed state
   * is on ({@code entanglement.signing} defaults to required with TLS): the same scenarios then
   * measure its price.
   */
  public static final boolean SIGNING = Boolean.getBoolean("entanglement.bench.signing");
  private static java.nio.file.Path certificates;

  /** A node named {@code name}; {@code properties} add listen, peers, limits... */
  public static Node start(String name, DbSettings db, Map<String, String> properties) {
    Map<String, String> all = new LinkedHashMap<>(properties);
    all.put(EntanglementSettings.NODE_NAME, name);
    if (SIGNING) {
      all.remove(EntanglementSettings.PLAINTEXT);
      all.putAll(tls(name));
    }
    return new Node(name, db, build(name, db, all, List.of(BenchItem.class)));
  }

  /** The TLS settings of a node name: a certificate from the run's development CA (made once per name). */
  private static synchronized Map<String, String> tls(String name) {
    try {
      if (certificates == null) {
        certificates = java.nio.file.Files.createTempDirectory("bench-certificates");
        dev.entanglement.hibernate.tls.DevCertificates.createCa(certificates.resolve("ca"), "benchmark CA");
      }
      java.nio.file.Path nodeDir = certificates.resolve("node-" + name);
      if (!java.nio.file.Files.exists(nodeDir.resolve(dev.entanglement.hibernate.tls.DevCertificates.CERTIFICATE))) {
        dev.entanglement.hibernate.tls.DevCertificates.createNode(nodeDir, certificates.resolve("ca"), name);
      }
      return Map.of(EntanglementSettings.TLS_CERTIFICATE, nodeDir.resolve("certificate.pem").toString(),
          EntanglementSettings.TLS_PRIVATE_KEY, nodeDir.resolve("private-key.pem").toString(),
          EntanglementSettings.TLS_TRUST, certificates.resolve("ca").resolve("certificate.pem").toString());
    } catch (Exception e) {
      throw new IllegalStateException("could not make the benchmark's development certificates: " + e, e);
    }
  }

  /**
   * A node named {@code name} of other entities than {@link BenchItem}, whose settings may be
   * objects (a policy, a browser identity); {@link #countItems()} does not apply to it.
   */
  public static Node startWith(String name, DbSettings db, Map<String, ?> properties, List<Class<?>> entities) {
    Map<String, Object> all = new LinkedHashMap<>(properties);
    all.put(EntanglementSettings.NODE_NAME, name);
    return new Node(name, db, build(name, db, all, entities));
  }

  private static EntityManagerFactory build(String unit, DbSettings db, Map<String, ?> properties,
      List<Class<?>> entities) {
    HibernatePersistenceConfiguration configuration = new HibernatePersistenceConfiguration(unit);
    entities.forEach(configuration::managedClass);
    db.properties().forEach(configuration::property);
    configuration.property("hibernate.hbm2ddl.auto", "create");
    // Hibernate's built-in pool (hibernate-hikaricp 7.4.6 is not on Maven Central); the same
    // for every variant, so ratios are unaffected
    configuration.property("hibernate.connection.pool_size", "8");
    properties.forEach(configuration::property);
    return configuration.createEntityManagerFactory();
  }

  public EntityManagerFactory factory() {
    return factory;
  }

  public DbSettings db() {
    return db;
  }

  /** The node's name, or null for a plain unit. */
  public String name() {
    return name;
  }

  public Entanglement entanglement() {
    return Entanglement.of(factory);
  }

  /** The address peers dial, with the actual port when it listens on port 0. */
  public String address() {
    return entanglement().listenAddress().orElseThrow(() -> new IllegalStateException(name + " does not listen"));
  }

  /** Runs {@code work} in a new EntityManager and transaction, and commits. */
  public void inTransaction(Consumer<EntityManager> work) {
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

  /** The value of a single-value native query (count, sum), 0 for SQL NULL. */
  public long queryLong(String sql) {
    EntityManager em = factory.createEntityManager();
    try {
      Object value = em.createNativeQuery(sql).getSingleResult();
      return value == null ? 0 : ((Number) value).longValue();
    } finally {
      em.close();
    }
  }

  public long countItems() {
    return queryLong("select count(*) from BenchItem");
  }

  /**
   * Waits until the peer's stream is open and handshaken. Polls the node's status: the public
   * API has no connection event, and the wait is outside every timed section.
   */
  public void awaitConnected(String peer) {
    long deadline = System.nanoTime() + CONNECT_TIMEOUT.toNanos();
    while (!entanglement().connectedPeers().contains(peer)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(name + " is not connected to " + peer + " after " + CONNECT_TIMEOUT);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
    }
  }

  /** Waits until the peer has answered every change this node committed so far. */
  public void awaitCaughtUp(String peer) {
    try {
      entanglement().caughtUp(peer).get(CATCH_UP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (Exception e) {
      throw new IllegalStateException(peer + " did not catch up with " + name, e);
    }
  }

  /** The open stream's status of a peer. */
  public PeerStatus streaming(String peer) {
    return entanglement().peers().stream()
        .filter(p -> peer.equals(p.name()) && p.state() == PeerStatus.State.STREAMING)
        .findFirst()
        .orElseThrow(() -> new IllegalStateException(name + " has no open stream to " + peer));
  }

  @Override
  public void close() {
    if (factory.isOpen()) {
      factory.close();
    }
  }

  @Override
  public String toString() {
    return name == null ? "plain(" + db.name() + ")" : name + "(" + db.name() + ")";
  }
}
