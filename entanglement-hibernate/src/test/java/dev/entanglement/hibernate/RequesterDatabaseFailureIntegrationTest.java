package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import jakarta.persistence.EntityManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 13, item 5: when the requesting node's own database fails (here its application holds
 * its whole connection pool), the futures of {@code update}, {@code delete} and {@code create}
 * fail with the documented type {@link UpdateRequestException.DatabaseUnavailable}, whose message
 * names the node and the cause, and not with a raw Hibernate or JPA exception; once the pool is
 * free again, the same calls succeed.
 */
class RequesterDatabaseFailureIntegrationTest {
  private TestNode a;
  private TestNode b;
  private final List<EntityManager> held = new ArrayList<>();

  @AfterEach
  void close() {
    release();
    for (TestNode node : new TestNode[] {b, a}) {
      if (node != null) {
        node.close();
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void fullPoolAtTheRequester_failsEveryFutureWithTheDocumentedType(Database database) throws Exception {
    String address = "requester-pool-" + UUID.randomUUID();
    a = TestNode.builder("a", database, Item.class).listenInProcess(address).start();
    b = TestNode.builder("b", database, Item.class).peers("inprocess:" + address)
        .set("hibernate.connection.pool_size", "2").start();
    b.awaitConnected("a");
    Item ofA = new Item("A1", "of a", 1);
    a.inTransaction(em -> em.persist(ofA));
    Item ofB = new Item("B1", "of b", 1);
    b.inTransaction(em -> em.persist(ofB));
    await().atMost(Duration.ofSeconds(20)).until(() -> b.find(Item.class, ofA.getId()) != null);

    hold(b, 2); // the application holds every connection of b's pool
    List<CompletableFuture<?>> futures = List.of(
        b.entanglement().update(Item.class, ofB.getId(), item -> item.setName("own")),
        b.entanglement().update(Item.class, ofA.getId(), item -> item.setName("a's")),
        b.entanglement().delete(Item.class, ofA.getId()),
        b.entanglement().create(new Item("B2", "new of b", 2), "b"),
        b.entanglement().create(new Item("A2", "new of a, asked by b", 2), "a")); // a stored request first
    for (CompletableFuture<?> future : futures) {
      Throwable failure = failure(future);
      assertThat(failure).as("the failure of a call while b's pool is held")
          .isInstanceOf(UpdateRequestException.DatabaseUnavailable.class)
          .hasMessageContaining("the database connection pool of node 'b' is exhausted")
          .hasMessageContaining("maximum size"); // the pool's own words
    }
    release();

    // nothing was written or sent: the same calls succeed once the pool is free
    assertThat(b.entanglement().update(Item.class, ofB.getId(), item -> item.setName("own")).get(20, TimeUnit.SECONDS))
        .extracting(Item::getName).isEqualTo("own");
    assertThat(b.entanglement().update(Item.class, ofA.getId(), item -> item.setName("a's")).get(20, TimeUnit.SECONDS))
        .extracting(Item::getName).isEqualTo("a's");
    assertThat(a.find(Item.class, ofA.getId()).getName()).isEqualTo("a's");
  }

  private static Throwable failure(CompletableFuture<?> future) throws Exception {
    try {
      future.get(20, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("the future succeeded while the pool was held");
  }

  /** Opens transactions that each hold one of the node's connections until released. */
  private void hold(TestNode node, int connections) {
    for (int i = 0; i < connections; i++) {
      EntityManager em = node.factory().createEntityManager();
      em.getTransaction().begin();
      em.createNativeQuery("select 1").getSingleResult();
      held.add(em);
    }
  }

  private void release() {
    for (EntityManager em : held) {
      if (em.getTransaction().isActive()) {
        em.getTransaction().rollback();
      }
      em.close();
    }
    held.clear();
  }
}
