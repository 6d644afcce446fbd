package dev.entanglement.hibernate.testing;

import dev.entanglement.hibernate.Entanglement;
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

  private TestNode(String name, EntityManagerFactory factory) {
    this.name = name;
    this.factory = factory;
  }

  public static Builder builder(String name, Database database, Class<?>... entities) {
    return new Builder(name, database, entities);
  }

  /** Builds nodes. Defaults: in-process listening on a unique name, no peers. */
  public static final class Builder {
    private final String name;
    private final Class<?>[] entities;
    private final Map<String, Object> settings = new HashMap<>();

    Builder(String name, Database database, Class<?>[] entities) {
      this.name = name;
      this.entities = entities;
      settings.putAll(database.freshDatabase(name));
      settings.put(EntanglementSettings.NODE_NAME, name);
      settings.put("hibernate.hbm2ddl.auto", "create");
      settings.put("hibernate.connection.pool_size", "4");
    }

    public Builder set(String setting, Object value) {
      settings.put(setting, value);
      return this;
    }

    /** Listens on a fresh in-process address; returns it for the peers to dial. */
    public Builder listenInProcess(String address) {
      return set(EntanglementSettings.LISTEN, "inprocess:" + address);
    }

    public Builder peers(String peers) {
      return set(EntanglementSettings.PEERS, peers);
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
      return new TestNode(name, buildFactory());
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
