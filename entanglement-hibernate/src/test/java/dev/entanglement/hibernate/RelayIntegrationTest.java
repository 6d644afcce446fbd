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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Three nodes in a line (a - b - c; a and c not connected): b relays, and catches c up. */
class RelayIntegrationTest {
  private final List<TestNode> nodes = new ArrayList<>();

  @AfterEach
  void close() {
    nodes.forEach(TestNode::close);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void line_changesFloodThroughTheMiddle_andAReturningEndCatchesUpFromIt(Database database) {
    String addressA = "line-a-" + UUID.randomUUID();
    String addressB = "line-b-" + UUID.randomUUID();
    TestNode a = TestNode.builder("a", database, Item.class).listenInProcess(addressA)
        .set("hibernate.hbm2ddl.auto", "update").start();
    nodes.add(a);
    TestNode b = TestNode.builder("b", database, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA).set("hibernate.hbm2ddl.auto", "update").start();
    nodes.add(b);
    TestNode.Builder cBuilder = TestNode.builder("c", database, Item.class).peers("inprocess:" + addressB)
        .set("hibernate.hbm2ddl.auto", "update")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200");
    TestNode c = cBuilder.start();
    nodes.add(c);
    a.awaitConnected("b");
    c.awaitConnected("b");

    Item fromA = new Item("A1", "from a", 1);
    a.inTransaction(em -> em.persist(fromA));
    Item fromC = new Item("C1", "from c", 3);
    c.inTransaction(em -> em.persist(fromC));
    await().atMost(Duration.ofSeconds(20)).until(() ->
        c.find(Item.class, fromA.getId()) != null && a.find(Item.class, fromC.getId()) != null);
    assertThat(c.sql("select owner_node from entanglement_object where object_id = '" + fromA.getId() + "'"))
        .isEqualTo("a");

    // c goes away; a changes things; c comes back and catches up from b, not from a
    c.close();
    nodes.remove(c);
    a.inTransaction(em -> em.find(Item.class, fromA.getId()).setQuantity(42));
    Item later = new Item("A2", "while c was away", 2);
    a.inTransaction(em -> em.persist(later));
    a.awaitCaughtUp("b");
    await().atMost(Duration.ofSeconds(20)).until(() -> b.find(Item.class, later.getId()) != null);
    TestNode c2 = cBuilder.set("hibernate.hbm2ddl.auto", "update").start();
    nodes.add(c2);
    c2.awaitConnected("b");
    b.awaitCaughtUp("c");
    assertThat(c2.find(Item.class, fromA.getId()).getQuantity()).isEqualTo(42);
    assertThat(c2.find(Item.class, later.getId())).isNotNull();
    assertThat(c2.table("Item")).isEqualTo(a.table("Item"));
    assertThat(b.status("c").catchUpObjectsSent()).as("only a's two changed objects").isEqualTo(2);
    Object aLast = a.sql("select max(serial) from entanglement_object where owner_node = 'a'");
    await().alias("c's position for a reaches a's last serial").atMost(Duration.ofSeconds(10)).until(() ->
        aLast.equals(c2.sql("select serial from entanglement_owner_position where owner_node = 'a'")));
  }
}
