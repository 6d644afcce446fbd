package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.FailingDataSource;
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
  private TestNode c;
  private final List<EntityManager> held = new ArrayList<>();

  @AfterEach
  void close() {
    release();
    for (TestNode node : new TestNode[] {c, b, a}) {
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

  @ParameterizedTest
  @EnumSource(Database.class)
  void relayWhoseBatchAndBookkeepingFail_stillRelaysWhatItApplied_andLosesNothing(Database database) throws Exception {
    String addressA = "relay-a-" + UUID.randomUUID();
    String addressB = "relay-b-" + UUID.randomUUID();
    a = TestNode.builder("a", database, Item.class).listenInProcess(addressA).start();
    // a's changes exist before b meets a: they reach b as one catch-up batch with a's position
    Item first = new Item("R1", "first", 1);
    Item second = new Item("R2", "second", 2);
    a.inTransaction(em -> {
      em.persist(first);
      em.persist(second);
    });
    TestNode.Builder bBuilder = TestNode.builder("b", database, Item.class).listenInProcess(addressB);
    FailingDataSource bDatabase = bBuilder.failingDatabase();
    b = bBuilder.start();
    c = TestNode.builder("c", database, Item.class).peers("inprocess:" + addressB).start();
    c.awaitConnected("b");

    // the batch fails as a whole at b (its position), then again when b writes the bookkeeping
    // after applying the changes one by one: an error that says nothing about being transient
    FailingDataSource.Fault fault = bDatabase.fail("INTO entanglement_owner_position (", "XX000", 2);
    a.entanglement().connect("inprocess:" + addressB);
    b.awaitConnected("a");
    // a registers b a moment after b registers a, and a stream may be replaced while both dial:
    // wait for a connection that stays
    a.awaitCaughtUp("b");
    b.awaitCaughtUp("c");
    assertThat(fault.fired()).isEqualTo(2);
    assertThat(c.find(Item.class, first.getId())).as("relayed to c").isNotNull();
    assertThat(c.find(Item.class, second.getId())).as("relayed to c").isNotNull();
    assertThat(b.status("a").changesRejectedHere()).isZero();
    assertThat(b.entanglement().parkedChanges()).isZero();
    // and b's position of a moved only once the batch was durable: a later change goes on as usual
    Item third = new Item("R3", "third", 3);
    a.inTransaction(em -> em.persist(third));
    await().atMost(Duration.ofSeconds(20)).until(() -> c.find(Item.class, third.getId()) != null);
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
