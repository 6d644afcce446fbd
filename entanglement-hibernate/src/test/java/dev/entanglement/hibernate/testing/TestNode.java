package dev.entanglement.hibernate.testing;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.PeerStatus;
import dev.entanglement.hibernate.EntanglementSettings;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import org.hibernate.jpa.HibernatePersistenceConfiguration;

/**
 * One node for tests: its own database and EntityManagerFactory with the plugin enabled. Build
 * with {@link #builder}; close with {@link #close}.
 */
public final class TestNode implements AutoCloseable {
  private final String name;
  private final EntityManagerFactory factory;
  private final Builder builder;

  private TestNode(String name, EntityManagerFactory factory, Builder builder) {
    this.name = name;
    this.factory = factory;
    this.builder = builder;
  }

  /** Closes this node and starts it again on the same database (a restart). */
  public TestNode restart() {
    close();
    return builder.set("hibernate.hbm2ddl.auto", "update").start();
  }

  /** A builder for this node again (same database), to start it later with other settings. */
  public Builder again() {
    return builder.set("hibernate.hbm2ddl.auto", "update");
  }

  public static Builder builder(String name, Database database, Class<?>... entities) {
    return new Builder(name, database, entities);
  }

  /** Builds nodes. Defaults: in-process listening on a unique name, no peers. */
  public static final class Builder {
    private final String name;
    private Class<?>[] entities;
    private final Map<String, Object> settings = new HashMap<>();

    Builder(String name, Database database, Class<?>[] entities) {
      this.name = name;
      this.entities = entities;
      settings.putAll(database.freshDatabase(name));
      settings.put(EntanglementSettings.NODE_NAME, name);
      settings.put("hibernate.hbm2ddl.auto", "create");
      settings.put("hibernate.connection.pool_size", "4");
    }

    /** Replaces the entity classes (e.g. a node upgraded to a version with a new entity). */
    public Builder entities(Class<?>... entities) {
      this.entities = entities;
      return this;
    }

    public Builder set(String setting, Object value) {
      settings.put(setting, value);
      return this;
    }

    /**
     * Makes the node read wall time from this clock (peer retirement after days of absence is
     * tested by moving it instead of waiting).
     */
    public Builder clock(java.time.Clock clock) {
      return set("entanglement.internal.clock", clock);
    }

    /** Listens on a fresh in-process address; returns it for the peers to dial. */
    public Builder listenInProcess(String address) {
      return set(EntanglementSettings.LISTEN, "inprocess:" + address);
    }

    public Builder peers(String peers) {
      return set(EntanglementSettings.PEERS, peers);
    }

    /**
     * Makes the node borrow every database connection from a data source that counts them (over
     * the same database, without a pool), and returns it.
     */
    public CountingDataSource countConnections() {
      CountingDataSource dataSource = new CountingDataSource((String) settings.remove("jakarta.persistence.jdbc.url"),
          (String) settings.remove("jakarta.persistence.jdbc.user"), (String) settings.remove("jakarta.persistence.jdbc.password"));
      settings.remove("hibernate.connection.pool_size");
      settings.put("hibernate.connection.datasource", dataSource);
      return dataSource;
    }

    /**
     * Makes the node borrow every database connection from a data source whose statements can be
     * made to fail on purpose (over the same database, without a pool), and returns it.
     */
    public FailingDataSource failingDatabase() {
      FailingDataSource dataSource = new FailingDataSource((String) settings.remove("jakarta.persistence.jdbc.url"),
          (String) settings.remove("jakarta.persistence.jdbc.user"), (String) settings.remove("jakarta.persistence.jdbc.password"));
      settings.remove("hibernate.connection.pool_size");
      settings.put("hibernate.connection.datasource", dataSource);
      return dataSource;
    }

    /**
     * Makes the node borrow every database connection from a pool of {@code max} connections that
     * fails at once when empty and records its peak use, and returns it.
     */
    public BoundedPool boundedPool(int max) {
      BoundedPool pool = new BoundedPool((String) settings.remove("jakarta.persistence.jdbc.url"),
          (String) settings.remove("jakarta.persistence.jdbc.user"), (String) settings.remove("jakarta.persistence.jdbc.password"),
          max);
      settings.remove("hibernate.connection.pool_size");
      settings.put("hibernate.connection.datasource", pool);
      return pool;
    }

    public EntityManagerFactory buildFactory() {
      HibernatePersistenceConfiguration configuration = new HibernatePersistenceConfiguration(name);
      for (Class<?> entity : entities) {
        configuration.managedClass(entity);
      }
      settings.forEach(configuration::property);
      return configuration.createEntityManagerFactory();
    }

    public TestNode start() {
      return new TestNode(name, buildFactory(), this);
    }
  }

  public String name() {
    return name;
  }

  public EntityManagerFactory factory() {
    return factory;
  }

  public Entanglement entanglement() {
    return Entanglement.of(factory);
  }

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

  public <T> T read(Function<EntityManager, T> work) {
    EntityManager em = factory.createEntityManager();
    try {
      return work.apply(em);
    } finally {
      em.close();
    }
  }

  public <T> T find(Class<T> type, Object id) {
    return read(em -> em.find(type, id));
  }

  public <T> List<T> all(Class<T> type) {
    return read(em -> em.createQuery("from " + type.getName(), type).getResultList());
  }

  /** The rows of a table as sorted text, for comparing whole tables between nodes. */
  public List<String> table(String table) {
    return read(em -> {
      List<?> rows = em.createNativeQuery("select * from " + table).getResultList();
      List<String> text = new java.util.ArrayList<>();
      for (Object row : rows) {
        Object[] columns = row instanceof Object[] array ? array : new Object[] {row};
        StringBuilder line = new StringBuilder();
        for (Object column : columns) {
          line.append(column instanceof byte[] bytes ? java.util.Arrays.toString(bytes) : String.valueOf(column)).append('|');
        }
        text.add(line.toString());
      }
      java.util.Collections.sort(text);
      return text;
    });
  }

  /** The status of the open stream with a peer, or null when there is none. */
  public PeerStatus status(String peer) {
    return entanglement().peers().stream()
        .filter(p -> peer.equals(p.name()) && p.state() == PeerStatus.State.STREAMING).findFirst().orElse(null);
  }

  /** Waits until this node has an open stream with the peer. */
  public void awaitConnected(String peer) {
    org.awaitility.Awaitility.await().alias(name + " connected to " + peer)
        .atMost(java.time.Duration.ofSeconds(30))
        .until(() -> entanglement().connectedPeers().contains(peer));
  }

  /** Waits until the peer has answered everything this node has to send it. */
  public void awaitCaughtUp(String peer) {
    org.awaitility.Awaitility.await().alias(peer + " caught up with " + name)
        .atMost(java.time.Duration.ofSeconds(60))
        .ignoreExceptions()
        .until(() -> {
          entanglement().caughtUp(peer).get(10, java.util.concurrent.TimeUnit.SECONDS);
          return true;
        });
  }

  /** A connection of the node's own pool, outside Hibernate's sessions; closing it hands it back to the pool. */
  public HeldConnection connection() throws java.sql.SQLException {
    var provider = factory.unwrap(org.hibernate.engine.spi.SessionFactoryImplementor.class).getServiceRegistry()
        .requireService(org.hibernate.engine.jdbc.connections.spi.ConnectionProvider.class);
    return new HeldConnection(provider, provider.getConnection());
  }

  /** See {@link #connection()}. */
  public record HeldConnection(org.hibernate.engine.jdbc.connections.spi.ConnectionProvider provider,
      java.sql.Connection jdbc) implements AutoCloseable {
    @Override
    public void close() throws java.sql.SQLException {
      provider.closeConnection(jdbc);
    }
  }

  /**
   * Runs one statement in plain JDBC on the node's own connection pool, committed: behind the
   * plugin's back, never seen by Hibernate's events (a repair, an import, another application).
   */
  public void jdbc(String sql, Object... parameters) throws java.sql.SQLException {
    try (HeldConnection held = connection()) {
      held.jdbc().setAutoCommit(false);
      try (java.sql.PreparedStatement statement = held.jdbc().prepareStatement(sql)) {
        for (int i = 0; i < parameters.length; i++) {
          statement.setObject(i + 1, parameters[i]);
        }
        statement.executeUpdate();
      }
      held.jdbc().commit();
    }
  }

  /** Runs native SQL and returns the first column of the first row. */
  public Object sql(String query) {
    return read(em -> {
      List<?> rows = em.createNativeQuery(query).getResultList();
      return rows.isEmpty() ? null : rows.get(0);
    });
  }

  @Override
  public void close() {
    if (factory.isOpen()) {
      factory.close();
    }
  }
}
