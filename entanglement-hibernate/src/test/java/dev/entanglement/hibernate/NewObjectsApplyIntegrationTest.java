package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Step;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A receiver inserts the objects its bookkeeping has no live row of without reading them first
 * (the apply path's fast path). A row written behind the plugin's back, which the bookkeeping
 * cannot know, makes that insert fail: the batch is then applied one change at a time, reading
 * each object, so the received state still lands (as an update of that row), nothing is parked
 * and nothing rejected.
 */
class NewObjectsApplyIntegrationTest {
  private final List<TestNode> nodes = new ArrayList<>();

  @AfterEach
  void close() {
    nodes.forEach(TestNode::close);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aRowWrittenBehindThePluginsBackAtTheReceiver_isUpdatedByTheReceivedState_notRejected(Database database)
      throws SQLException {
    String address = "new-objects-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", database, Item.class).listenInProcess(address).start());
    List<Item> items = new ArrayList<>();
    a.inTransaction(em -> {
      for (int i = 0; i < 20; i++) {
        Item item = new Item("n-" + i, "item " + i, i);
        em.persist(item);
        items.add(item);
      }
    });
    // b's database gets a row of one of a's objects before b ever hears of it
    TestNode alone = TestNode.builder("b", database, Item.class).start();
    alone.jdbc("insert into Item (id, code, name, quantity, version) values (?, 'written behind its back', "
        + "'stale', 999, 7)", items.get(7).getId());
    TestNode.Builder again = alone.again();
    alone.close();
    TestNode b = track(again.peers("inprocess:" + address).start());

    b.awaitCaughtUp("a");
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
    assertThat(b.entanglement().parkedChanges()).isZero();
    assertThat(b.status("a").changesRejectedHere()).isZero();
  }

  /**
   * A type whose every state is sent: a receiver that was away gets an object's insert and its
   * delete in one batch. The insert waits in the transaction's JDBC batch; the delete's read must
   * see it (a stateless session's read does not run pending writes by itself: the object stayed).
   */
  @ParameterizedTest
  @EnumSource(Database.class)
  void anObjectInsertedAndDeletedWithinOneReceivedBatch_isGoneAtTheReceiver(Database database) {
    String address = "new-objects-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", database, Step.class).listenInProcess(address).start());
    a.inTransaction(em -> em.persist(new Step("short-lived", 0)));
    a.inTransaction(em -> em.remove(em.find(Step.class, "short-lived")));
    a.inTransaction(em -> em.persist(new Step("kept", 1)));

    TestNode b = track(TestNode.builder("b", database, Step.class).peers("inprocess:" + address).start());
    b.awaitCaughtUp("a");
    a.awaitCaughtUp("b");
    assertThat(b.table("Step")).isEqualTo(a.table("Step")).hasSize(1);
  }

  private TestNode track(TestNode node) {
    nodes.add(node);
    return node;
  }
}
