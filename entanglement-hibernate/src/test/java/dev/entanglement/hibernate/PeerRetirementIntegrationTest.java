package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.ManualClock;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Peers away longer than {@code entanglement.peer.forget_after} are retired, so that tombstone
 * compaction goes on without them (before, one peer gone for good stopped it for ever); a retired
 * peer that returns gets a full synchronization with a sweep and converges. Relays compact the
 * tombstones of the owners they relay by the same rule. Wall time is a {@link ManualClock}.
 */
class PeerRetirementIntegrationTest {
  private static final Duration PAST_FORGET_AFTER = Duration.ofDays(7).plusHours(1);

  private final List<TestNode> nodes = new ArrayList<>();
  private final ManualClock clock = new ManualClock();

  @AfterEach
  void close() {
    nodes.forEach(TestNode::close);
  }

  private TestNode track(TestNode node) {
    nodes.add(node);
    return node;
  }

  private TestNode.Builder node(String name, Database database) {
    return TestNode.builder(name, database, Item.class).clock(clock)
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

  private static void delete(TestNode node, List<Item> items) {
    node.inTransaction(em -> items.forEach(i -> em.remove(em.find(Item.class, i.getId()))));
  }

  private static long tombstones(TestNode node, String owner) {
    return ((Number) node.sql("select count(*) from entanglement_object where deleted = true and owner_node = '"
        + owner + "'")).longValue();
  }

  /** a (owner) with peers b and c; c goes away; a deletes objects while b acknowledges them. */
  private record Star(TestNode a, TestNode b, TestNode.Builder cAgain, List<Item> deletedWhileAway) {}

  private Star starWithCAway(Database database) {
    String address = "retire-" + UUID.randomUUID();
    TestNode a = track(node("a", database).listenInProcess(address).start());
    TestNode b = track(node("b", database).peers("inprocess:" + address).start());
    TestNode c = track(node("c", database).peers("inprocess:" + address).start());
    b.awaitConnected("a");
    c.awaitConnected("a");
    List<Item> created = items(a, 10, "r-");
    a.awaitCaughtUp("b");
    a.awaitCaughtUp("c");
    await().atMost(Duration.ofSeconds(20)).until(() -> c.all(Item.class).size() == 10);
    a.entanglement().runHousekeeping(); // c's position is now recorded at a
    c.close();
    await().atMost(Duration.ofSeconds(20)).until(() -> !a.entanglement().connectedPeers().contains("c"));
    List<Item> deleted = created.subList(0, 4);
    delete(a, deleted);
    a.awaitCaughtUp("b");
    return new Star(a, b, c.again(), deleted);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void peerAwayPastForgetAfter_noLongerBlocksCompaction(Database database) {
    Star star = starWithCAway(database);
    TestNode a = star.a();
    a.entanglement().runHousekeeping();
    assertThat(tombstones(a, "a")).as("c, away for less than forget_after, still needs them").isEqualTo(4);

    clock.advance(PAST_FORGET_AFTER);
    a.entanglement().runHousekeeping();
    assertThat(tombstones(a, "a")).as("c was away for more than forget_after: it is retired").isZero();
    assertThat(a.sql("select count(*) from entanglement_peer_position where peer_name = 'c'")).isEqualTo(0L);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void retiredPeerReturning_getsAFullSyncWithASweep_andConverges(Database database) {
    Star star = starWithCAway(database);
    TestNode a = star.a();
    clock.advance(PAST_FORGET_AFTER);
    a.entanglement().runHousekeeping();
    assertThat(tombstones(a, "a")).as("precondition: c retired, tombstones compacted").isZero();

    TestNode c = track(star.cAgain().start());
    c.awaitConnected("a");
    a.awaitCaughtUp("c");
    await().atMost(Duration.ofSeconds(20)).until(() -> c.all(Item.class).size() == 6);
    for (Item item : star.deletedWhileAway()) {
      assertThat(c.find(Item.class, item.getId())).as("deleted while c was away").isNull();
    }
    assertThat(c.table("Item")).isEqualTo(a.table("Item"));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void peerThatNeverAcknowledgedAnything_doesNotBlockCompaction(Database database) {
    String address = "ghost-" + UUID.randomUUID();
    TestNode a = track(node("a", database).listenInProcess(address).start());
    // a peer that completes a Hello while a has nothing, then goes (as a fuzzing client does)
    TestNode ghost = node("ghost", database).peers("inprocess:" + address).start();
    ghost.awaitConnected("a");
    a.awaitCaughtUp("ghost");
    a.entanglement().runHousekeeping();
    ghost.close();
    await().atMost(Duration.ofSeconds(20)).until(() -> !a.entanglement().connectedPeers().contains("ghost"));

    TestNode b = track(node("b", database).peers("inprocess:" + address).start());
    b.awaitConnected("a");
    List<Item> created = items(a, 5, "g-");
    delete(a, created.subList(0, 2));
    a.awaitCaughtUp("b");
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
      a.entanglement().runHousekeeping();
      assertThat(tombstones(a, "a")).as("only b counts; the ghost holds nothing of a").isZero();
    });
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void relay_compactsTheOwnersTombstonesOnceItsPeersHaveThem_andAReturningPeerConverges(Database database) {
    String addressA = "relay-a-" + UUID.randomUUID();
    String addressB = "relay-b-" + UUID.randomUUID();
    TestNode a = track(node("a", database).listenInProcess(addressA).start());
    TestNode b = track(node("b", database).listenInProcess(addressB).peers("inprocess:" + addressA).start());
    TestNode.Builder cBuilder = node("c", database).peers("inprocess:" + addressB);
    TestNode c = track(cBuilder.start());
    a.awaitConnected("b");
    c.awaitConnected("b");
    List<Item> created = items(a, 10, "x-");
    await().atMost(Duration.ofSeconds(20)).until(() -> c.all(Item.class).size() == 10);
    delete(a, created.subList(0, 3));
    await().atMost(Duration.ofSeconds(20)).until(() -> c.all(Item.class).size() == 7);
    assertThat(tombstones(b, "a")).isEqualTo(3);

    // c has applied a's deletions through b: b needs a's tombstones no more
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
      b.entanglement().runHousekeeping();
      assertThat(tombstones(b, "a")).as("b's tombstones of a's objects, c having acknowledged them").isZero();
    });

    // c goes away; a deletes more; b keeps those tombstones for c until c is retired
    c.close();
    nodes.remove(c);
    await().atMost(Duration.ofSeconds(20)).until(() -> !b.entanglement().connectedPeers().contains("c"));
    List<Item> deletedWhileAway = created.subList(3, 5);
    delete(a, deletedWhileAway);
    await().atMost(Duration.ofSeconds(20)).until(() -> tombstones(b, "a") == 2);
    b.entanglement().runHousekeeping();
    assertThat(tombstones(b, "a")).as("c, away for less than forget_after, still needs them").isEqualTo(2);
    clock.advance(PAST_FORGET_AFTER);
    b.entanglement().runHousekeeping();
    assertThat(tombstones(b, "a")).as("c retired at b").isZero();

    TestNode c2 = track(cBuilder.start());
    c2.awaitConnected("b");
    b.awaitCaughtUp("c");
    await().atMost(Duration.ofSeconds(20)).until(() -> c2.all(Item.class).size() == 5);
    for (Item item : deletedWhileAway) {
      assertThat(c2.find(Item.class, item.getId())).as("deleted while c was away").isNull();
    }
    assertThat(c2.table("Item")).isEqualTo(a.table("Item"));
  }
}
