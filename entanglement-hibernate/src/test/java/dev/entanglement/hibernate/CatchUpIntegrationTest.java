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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A peer that was away (closed, restarted) receives exactly the latest state of what changed,
 * and tombstones of what was deleted, once per object; nothing is lost across restarts.
 */
class CatchUpIntegrationTest {
  private final List<TestNode> nodes = new ArrayList<>();

  @AfterEach
  void close() {
    nodes.forEach(TestNode::close);
  }

  private TestNode track(TestNode node) {
    nodes.add(node);
    return node;
  }

  private TestNode.Builder owner(Database database, String address) {
    return TestNode.builder("a", database, Item.class).listenInProcess(address)
        .set("hibernate.hbm2ddl.auto", "update");
  }

  private TestNode.Builder follower(Database database, String address) {
    return TestNode.builder("b", database, Item.class).peers("inprocess:" + address)
        .set("hibernate.hbm2ddl.auto", "update")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200");
  }

  private static List<Item> items(TestNode node, int count, String prefix) {
    List<Item> created = new ArrayList<>();
    node.inTransaction(em -> {
      for (int i = 0; i < count; i++) {
        Item item = new Item(prefix + i, "item " + prefix + i, i);
        em.persist(item);
        created.add(item);
      }
    });
    return created;
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void changesWhileAway_arriveOncePerObject(Database database) {
    String address = "catch-up-" + UUID.randomUUID();
    TestNode a = track(owner(database, address).start());
    TestNode b = track(follower(database, address).start());
    b.awaitConnected("a");
    List<Item> old = items(a, 20, "old-");
    a.awaitCaughtUp("b");

    b.close();
    List<Item> fresh = items(a, 30, "new-");
    for (int round = 1; round <= 10; round++) {
      int r = round;
      a.inTransaction(em -> old.subList(0, 10).forEach(i -> em.find(Item.class, i.getId()).setQuantity(100 + r)));
    }
    a.inTransaction(em -> old.subList(15, 20).forEach(i -> em.remove(em.find(Item.class, i.getId()))));

    TestNode b2 = track(b.restart());
    b2.awaitConnected("a");
    a.awaitCaughtUp("b");
    assertThat(b2.table("Item")).isEqualTo(a.table("Item"));
    assertThat(b2.all(Item.class)).hasSize(45);
    assertThat(b2.find(Item.class, old.get(3).getId()).getQuantity()).isEqualTo(110);
    assertThat(b2.find(Item.class, fresh.get(29).getId())).isNotNull();
    // 30 new + 10 updated ten times each + 5 deleted: one message per object
    assertThat(a.status("b").catchUpObjectsSent()).isEqualTo(45);
    assertThat(b2.status("a").changesReceived()).isEqualTo(45);
    assertThat(b2.sql("select serial from entanglement_owner_position where owner_node = 'a'"))
        .isEqualTo(a.sql("select max(serial) from entanglement_object"));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void ownerRestartedMidStream_peerCatchesUpEverything(Database database) {
    String address = "restart-" + UUID.randomUUID();
    TestNode a = track(owner(database, address).start());
    TestNode b = track(follower(database, address).start());
    b.awaitConnected("a");
    for (int i = 0; i < 40; i++) {
      items(a, 5, "burst" + i + "-");
    }
    // restart without waiting: whatever was still in the outbox is gone with the process
    TestNode a2 = track(a.restart());
    items(a2, 5, "after-");
    b.awaitConnected("a");
    a2.awaitCaughtUp("b");
    assertThat(b.all(Item.class)).hasSize(205);
    assertThat(b.table("Item")).isEqualTo(a2.table("Item"));
  }

  @Test
  void bothRestarted_resumeWhereTheyWere() {
    String address = "both-" + UUID.randomUUID();
    TestNode a = track(owner(Database.H2, address).start());
    TestNode b = track(follower(Database.H2, address).start());
    b.awaitConnected("a");
    items(a, 10, "first-");
    a.awaitCaughtUp("b");
    b.close();
    items(a, 10, "second-");
    a.close();
    TestNode a2 = track(a.again().start());
    TestNode b2 = track(b.again().start());
    b2.awaitConnected("a");
    items(a2, 10, "third-");
    a2.awaitCaughtUp("b");
    assertThat(b2.table("Item")).isEqualTo(a2.table("Item"));
    assertThat(b2.all(Item.class)).hasSize(30);
    assertThat(a2.status("b").catchUpObjectsSent()).as("only what b missed").isEqualTo(10);
  }

  @Test
  void simultaneousDial_leavesOneStream() {
    String addressA = "mutual-a-" + UUID.randomUUID();
    String addressB = "mutual-b-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(addressA)
        .peers("inprocess:" + addressB).set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "5")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "50").start());
    TestNode b = track(TestNode.builder("b", Database.H2, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA).set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "5")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "50").start());
    a.awaitConnected("b");
    b.awaitConnected("a");
    items(a, 3, "a-");
    items(b, 4, "b-");
    a.awaitCaughtUp("b");
    b.awaitCaughtUp("a");
    assertThat(a.all(Item.class)).hasSize(7);
    assertThat(b.all(Item.class)).hasSize(7);
    // the stream dialed by "a" (the name that sorts first) is the one both keep
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
      assertThat(a.entanglement().peers()).filteredOn(p -> p.state() == PeerStatus.State.STREAMING)
          .singleElement().satisfies(p -> assertThat(p.dialed()).isTrue());
      assertThat(b.entanglement().peers()).filteredOn(p -> p.state() == PeerStatus.State.STREAMING)
          .singleElement().satisfies(p -> assertThat(p.dialed()).isFalse());
    });
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void forcedResync_resendsEverything_andClearRemovesWhatTheOwnerNoLongerHas(Database database) throws Exception {
    String address = "resync-" + UUID.randomUUID();
    TestNode a = track(owner(database, address).start());
    TestNode b = track(follower(database, address).start());
    b.awaitConnected("a");
    items(a, 50, "r-");
    a.awaitCaughtUp("b");
    long before = a.status("b").catchUpObjectsSent();

    b.entanglement().resync("a", false).get(30, TimeUnit.SECONDS);
    assertThat(a.status("b").catchUpObjectsSent()).isEqualTo(before + 50);
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));

    // b holds an object of a's that a does not have (e.g. a lost tombstone)
    UUID ghost = UUID.randomUUID();
    b.inTransaction(em -> {
      em.createNativeQuery("insert into Item (id, code, name, quantity, version) values (?, 'GHOST', 'ghost', 0, 0)")
          .setParameter(1, ghost).executeUpdate();
      em.createNativeQuery("insert into entanglement_object (entity_name, object_id, owner_node, serial, deleted) "
          + "values ('Item', ?, 'a', 1, false)").setParameter(1, ghost.toString()).executeUpdate();
    });
    assertThat(b.all(Item.class)).hasSize(51);
    b.entanglement().resync("a", true).get(30, TimeUnit.SECONDS);
    assertThat(b.find(Item.class, ghost)).isNull();
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void tombstones_compactedOnceAcknowledged_andAStalePeerStillConverges(Database database) {
    String address = "compact-" + UUID.randomUUID();
    TestNode a = track(owner(database, address).start());
    TestNode b = track(follower(database, address).start());
    b.awaitConnected("a");
    List<Item> created = items(a, 10, "t-");
    a.inTransaction(em -> created.subList(0, 5).forEach(i -> em.remove(em.find(Item.class, i.getId()))));
    a.awaitCaughtUp("b");
    assertThat(a.sql("select count(*) from entanglement_object where deleted = true")).isEqualTo(5L);
    a.entanglement().runHousekeeping();
    assertThat(a.sql("select count(*) from entanglement_object where deleted = true")).isEqualTo(0L);
    assertThat(a.sql("select compacted_through from entanglement_node")).isEqualTo(15L);

    // b goes back in time (an old backup): it holds a deleted object and an old position
    b.close();
    UUID deleted = created.get(0).getId();
    try (TestNode offline = b.again().set(EntanglementSettings.ENABLED, "false").start()) {
      offline.inTransaction(em -> {
      em.createNativeQuery("insert into Item (id, code, name, quantity, version) values (?, 't-0', 'old', 0, 0)")
          .setParameter(1, deleted).executeUpdate();
      em.createNativeQuery("update entanglement_object set deleted = false where object_id = ?")
          .setParameter(1, deleted.toString()).executeUpdate();
      em.createNativeQuery("update entanglement_owner_position set serial = 2").executeUpdate();
      });
    }
    TestNode b2 = track(b.again().set(EntanglementSettings.ENABLED, "true").start());
    b2.awaitConnected("a");
    a.awaitCaughtUp("b");
    await().atMost(Duration.ofSeconds(20)).until(() -> b2.find(Item.class, deleted) == null);
    assertThat(b2.table("Item")).isEqualTo(a.table("Item"));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void rejectedObject_isParkedAndAppliedWhenTheObstacleGoes(Database database) {
    String address = "parked-" + UUID.randomUUID();
    TestNode a = track(owner(database, address).start());
    TestNode b = track(follower(database, address).start());
    b.awaitConnected("a");
    UUID local = UUID.randomUUID();
    b.inTransaction(em -> em.createNativeQuery(
        "insert into Item (id, code, name, quantity, version) values (?, 'CLASH', 'local', 0, 0)")
        .setParameter(1, local).executeUpdate());
    List<Item> sent = items(a, 1, "CLASH");
    Item clash = new Item("CLASH", "from a", 1);
    a.inTransaction(em -> em.persist(clash));
    a.awaitCaughtUp("b");
    assertThat(b.entanglement().parkedChanges()).isEqualTo(1);
    assertThat(b.sql("select reason from entanglement_parked")).isEqualTo("CONSTRAINT_VIOLATION");
    assertThat(b.find(Item.class, clash.getId())).isNull();
    assertThat(b.find(Item.class, sent.get(0).getId())).isNotNull();

    // the position moved past the parked change, and a restart does not lose it either
    TestNode b2 = track(b.restart());
    b2.awaitConnected("a");
    assertThat(b2.entanglement().parkedChanges()).isEqualTo(1);
    b2.inTransaction(em -> em.createNativeQuery("delete from Item where id = ?").setParameter(1, local).executeUpdate());
    b2.entanglement().runHousekeeping();
    assertThat(b2.entanglement().parkedChanges()).isZero();
    assertThat(b2.find(Item.class, clash.getId()).getName()).isEqualTo("from a");
    assertThat(b2.sql("select count(*) from entanglement_parked")).isEqualTo(0L);
  }

  @Test
  void bandwidthLimit_keepsBytesWithinBudget_andTheLastStateWins() {
    String address = "slow-" + UUID.randomUUID();
    long limit = 16 * 1024;
    TestNode a = track(owner(Database.H2, address)
        .set(EntanglementSettings.BANDWIDTH_LIMIT, String.valueOf(limit)).start());
    TestNode b = track(follower(Database.H2, address).start());
    b.awaitConnected("a");
    List<Item> hot = items(a, 20, "hot-");
    long start = System.nanoTime();
    long sentAtStart = a.status("b").bytesSent();
    for (int round = 1; round <= 150; round++) {
      int r = round;
      a.inTransaction(em -> hot.forEach(i -> {
        Item managed = em.find(Item.class, i.getId());
        managed.setQuantity(r);
        managed.setName("x".repeat(40) + r);
      }));
    }
    a.awaitCaughtUp("b");
    double seconds = (System.nanoTime() - start) / 1e9;
    long sent = a.status("b").bytesSent() - sentAtStart;
    // the limit, plus the quarter-second burst and one message of an eighth of a second
    assertThat((double) sent).isLessThanOrEqualTo(limit * seconds + limit / 4.0 + limit / 8.0);
    assertThat(a.status("b").coalesced()).isPositive();
    for (Item item : hot) {
      assertThat(b.find(Item.class, item.getId()).getQuantity()).isEqualTo(150);
    }
  }
}
