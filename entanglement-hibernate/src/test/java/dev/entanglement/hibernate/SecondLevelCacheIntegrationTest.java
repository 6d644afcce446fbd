package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.NodePair;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.Transport;
import jakarta.persistence.Cacheable;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.hibernate.annotations.Cache;
import org.hibernate.annotations.CacheConcurrencyStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Changes applied from a peer are never served stale from Hibernate's second-level cache (issue
 * 18): with a real JCache provider (Caffeine), a replica's cached entity and cached query results
 * show a peer's update, insert and delete once they commit there.
 *
 * <p>A regression guard, not a proof of the node's own eviction: with Hibernate 7.4.6 this test
 * also passes with {@code AppliedChanges}' eviction removed (checked), because the apply's
 * stateless session already keeps these regions fresh on these paths (see docs/listeners.md).
 */
class SecondLevelCacheIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private NodePair nodes;

  /** A cached entangled entity. */
  @Entity(name = "CachedStock")
  @Table(name = "cached_stock")
  @Entangled
  @Cacheable
  @Cache(usage = CacheConcurrencyStrategy.READ_WRITE)
  public static class CachedStock {
    @Id private UUID id = UUID.randomUUID();
    private int quantity;

    protected CachedStock() {}

    CachedStock(int quantity) {
      this.quantity = quantity;
    }

    public UUID getId() {
      return id;
    }

    public int getQuantity() {
      return quantity;
    }

    public void setQuantity(int quantity) {
      this.quantity = quantity;
    }
  }

  private static TestNode.Builder cached(TestNode.Builder builder) {
    return builder.set("hibernate.cache.use_second_level_cache", "true")
        .set("hibernate.cache.use_query_cache", "true")
        .set("hibernate.cache.region.factory_class", "jcache")
        .set("hibernate.javax.cache.provider", "com.github.benmanes.caffeine.jcache.spi.CaffeineCachingProvider")
        .set("hibernate.javax.cache.missing_cache_strategy", "create");
  }

  @AfterEach
  void close() {
    if (nodes != null) {
      nodes.close();
    }
  }

  private static int storedQuantity(TestNode node, UUID id) {
    Object value = node.read(em -> em.createNativeQuery("select quantity from cached_stock where id = ?1")
        .setParameter(1, id).getSingleResult());
    return ((Number) value).intValue();
  }

  private static List<CachedStock> largeStocks(TestNode node) {
    return node.read(em -> em.createQuery("from CachedStock where quantity > 10", CachedStock.class)
        .setHint("org.hibernate.cacheable", true).getResultList());
  }

  @Test
  void aPeersChangeEvictsTheReplicasCachedEntityAndQueryResults() {
    nodes = NodePair.start(Database.H2, Transport.IN_PROCESS, SecondLevelCacheIntegrationTest::cached,
        SecondLevelCacheIntegrationTest::cached, CachedStock.class);
    TestNode b = nodes.b;
    CachedStock stock = new CachedStock(5);
    nodes.a.inTransaction(em -> em.persist(stock));
    await().alias("b holds the stock").atMost(WAIT).until(() -> b.find(CachedStock.class, stock.getId()) != null);
    assertThat(b.find(CachedStock.class, stock.getId()).getQuantity()).isEqualTo(5);
    assertThat(b.factory().getCache().contains(CachedStock.class, stock.getId()))
        .as("b's read put the stock into the second-level cache").isTrue();
    assertThat(largeStocks(b)).as("cached query result: no large stocks yet").isEmpty();

    nodes.a.inTransaction(em -> em.find(CachedStock.class, stock.getId()).setQuantity(50));
    await().alias("b's row holds the new quantity").atMost(WAIT).until(() -> storedQuantity(b, stock.getId()) == 50);
    await().alias("b reads the new quantity, not the cached one").atMost(Duration.ofSeconds(5))
        .until(() -> b.find(CachedStock.class, stock.getId()).getQuantity() == 50);
    await().alias("b's cached query sees the new quantity").atMost(Duration.ofSeconds(5))
        .until(() -> largeStocks(b).size() == 1);

    // a new object: inserted at b without reading anything first
    CachedStock large = new CachedStock(70);
    nodes.a.inTransaction(em -> em.persist(large));
    await().alias("b's row of the new stock").atMost(WAIT).until(() -> ((Number) b.read(em -> em.createNativeQuery(
        "select count(*) from cached_stock").getSingleResult())).intValue() == 2);
    await().alias("b's cached query sees the new stock").atMost(Duration.ofSeconds(5))
        .until(() -> largeStocks(b).size() == 2);

    nodes.a.inTransaction(em -> em.remove(em.find(CachedStock.class, stock.getId())));
    await().alias("b's row is gone").atMost(WAIT).until(() -> ((Number) b.read(em -> em.createNativeQuery(
        "select count(*) from cached_stock").getSingleResult())).intValue() == 1);
    await().alias("b no longer finds the removed stock").atMost(Duration.ofSeconds(5))
        .until(() -> b.find(CachedStock.class, stock.getId()) == null);
  }
}
