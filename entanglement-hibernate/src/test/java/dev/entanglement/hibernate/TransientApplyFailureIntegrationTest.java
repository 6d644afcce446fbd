package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import jakarta.persistence.EntityManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A receiver whose database fails for a while (here: its connection pool is exhausted by the
 * application) must not answer the changes it could not apply as final rejections: they are
 * retried, and applied once the database is back, with nothing parked and nothing skipped.
 */
class TransientApplyFailureIntegrationTest {
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
  void receiverWhosePoolIsBusy_appliesEveryChangeOnceItIsFree(Database database) throws Exception {
    String address = "transient-" + UUID.randomUUID();
    a = TestNode.builder("a", database, Item.class).listenInProcess(address).start();
    b = TestNode.builder("b", database, Item.class).peers("inprocess:" + address)
        .set("hibernate.connection.pool_size", "2").start();
    b.awaitConnected("a");

    try (LogCapture logs = LogCapture.start()) {
      hold(b, 2); // the application holds every connection of b's pool
      for (int i = 0; i < 50; i++) {
        Item item = new Item("busy-" + i, "item " + i, i);
        a.inTransaction(em -> em.persist(item));
      }
      // b tried to apply and its database said no
      await().alias("b failed to get a connection").atMost(Duration.ofSeconds(20))
          .until(() -> !logs.lines("maximum size").isEmpty());
      release();
    }

    await().alias("every change applied at b").atMost(Duration.ofSeconds(30))
        .until(() -> b.all(Item.class).size() == 50);
    a.entanglement().caughtUp("b").get(30, TimeUnit.SECONDS);
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
    assertThat(b.entanglement().parkedChanges()).isZero();
    assertThat(b.status("a").changesRejectedHere()).isZero();
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
