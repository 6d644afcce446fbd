package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** An owner's removal is stored: it outlives restarts and reaches nodes that were offline. */
class OwnerRemovalIntegrationTest {
  private final List<TestNode> nodes = new ArrayList<>();

  @AfterEach
  void close() {
    nodes.forEach(TestNode::close);
  }

  private TestNode track(TestNode node) {
    nodes.add(node);
    return node;
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void removal_reachesANodeThatWasOffline_andOutlivesARestart(Database database) throws Exception {
    String addressA = "removal-a-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", database, Item.class).listenInProcess(addressA).start());
    TestNode.Builder xBuilder = TestNode.builder("x", database, Item.class).peers("inprocess:" + addressA);
    TestNode x = track(xBuilder.start());
    TestNode.Builder cBuilder = TestNode.builder("c", database, Item.class).peers("inprocess:" + addressA);
    TestNode c = track(cBuilder.start());
    x.awaitConnected("a");
    c.awaitConnected("a");
    Item fromX = new Item("X1", "x's", 1);
    x.inTransaction(em -> em.persist(fromX));
    await().atMost(Duration.ofSeconds(20)).until(() -> c.find(Item.class, fromX.getId()) != null);

    // c goes offline, x leaves, an operator removes x at a
    c.close();
    nodes.remove(c);
    x.close();
    nodes.remove(x);
    assertThat(a.entanglement().removeOwner("x").get(10, TimeUnit.SECONDS)).isEqualTo(1);

    // c comes back: it learns of the removal from a and deletes x's object
    TestNode c2 = track(cBuilder.set("hibernate.hbm2ddl.auto", "update").start());
    c2.awaitConnected("a");
    await().alias("x's object gone at c").atMost(Duration.ofSeconds(20))
        .until(() -> c2.find(Item.class, fromX.getId()) == null);

    // a restarts: x's changes are still refused
    a.close();
    nodes.remove(a);
    TestNode a2 = track(a.restart());
    TestNode x2 = track(xBuilder.set("hibernate.hbm2ddl.auto", "update").start());
    x2.awaitConnected("a");
    x2.inTransaction(em -> em.persist(new Item("X2", "after the removal", 2)));
    await().atMost(Duration.ofSeconds(20)).until(() -> a2.status("x") != null && a2.status("x").changesRejectedHere() > 0);
    assertThat(a2.all(Item.class)).isEmpty();
  }
}
