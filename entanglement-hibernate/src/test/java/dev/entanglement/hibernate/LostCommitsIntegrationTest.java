package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An owner's database loses its last commits (as H2 can to a SIGKILL), and the owner commits
 * past what its peer holds before the peer reconnects: the serials the peer holds are given out
 * again to other objects. The peer must still end up with exactly what the owner has. Found by
 * the crash harness's 20-kill campaign on H2 (seed -3722266807298123489): the peer kept an
 * object the owner no longer had, for good.
 */
class LostCommitsIntegrationTest {
  private TestNode a;
  private TestNode b;
  private TestNode c;

  @AfterEach
  void close() {
    for (TestNode node : new TestNode[] {c, b, a}) {
      if (node != null) {
        node.close();
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void ownerThatLostCommitsAndCommittedPastThePeer_isFollowedByThePeer(Database database) throws Exception {
    Builders builders = threeItemsHeldByAStoppedPeer(database, "lost-");
    TestNode.Builder aBuilder = builders.a();
    TestNode.Builder bBuilder = builders.b();

    loseCommitsAndCommitPastThem(aBuilder);

    b = bBuilder.set("hibernate.hbm2ddl.auto", "update").start();
    b.awaitConnected("a");
    await().alias("b holds exactly what a holds").atMost(Duration.ofSeconds(30))
        .until(() -> b.table("Item").equals(a.table("Item")));
    assertThat(b.all(Item.class)).extracting(Item::getCode)
        .containsExactlyInAnyOrder("NEW-1", "NEW-2", "NEW-3", "NEW-4", "NEW-5");
  }

  /**
   * The member stamper reserves serials durably before it offers a follower's changes
   * ({@code entanglement_node.serials_offered}); a start begins above them. A database that then
   * loses commits keeps the reservation, and the check of a peer's first Hello took the reserved
   * serials as given out: the peer's copies of the lost commits stayed (CrashRecoveryTest, seed
   * 7878408619659118898 on CI: b kept 34 states a no longer had).
   */
  @ParameterizedTest
  @EnumSource(Database.class)
  void ownerThatLostCommitsBelowSerialsItHadReserved_isFollowedByThePeer(Database database) throws Exception {
    Builders builders = threeItemsHeldByAStoppedPeer(database, "lost-reserved-");
    TestNode.Builder aBuilder = builders.a();
    TestNode.Builder bBuilder = builders.b();

    a.inTransaction(em -> {
      em.createNativeQuery("DELETE FROM Item").executeUpdate();
      em.createNativeQuery("DELETE FROM entanglement_object").executeUpdate();
      em.createNativeQuery("UPDATE entanglement_node SET serials_offered = 100 WHERE node_name = 'a'").executeUpdate();
    });
    a.close();
    a = aBuilder.set("hibernate.hbm2ddl.auto", "update").start();
    a.inTransaction(em -> em.persist(new Item("NEW-1", "after the loss", 1)));

    b = bBuilder.set("hibernate.hbm2ddl.auto", "update").start();
    b.awaitConnected("a");
    await().alias("b holds exactly what a holds").atMost(Duration.ofSeconds(30))
        .until(() -> b.table("Item").equals(a.table("Item")));
    assertThat(b.all(Item.class)).extracting(Item::getCode).containsExactly("NEW-1");
  }

  /**
   * The lost commit is an update of an object the owner still has, and the owner committed past
   * the serial the peer holds before the peer came back: the peer must take the owner's older
   * state back. The check "serials already moved" took the restarted clock's progress for a move
   * (CrashRecoveryTest H2, seed 4172462878234318000: b kept a state of serial 3223 that a lost).
   */
  @ParameterizedTest
  @EnumSource(Database.class)
  void ownerThatLostAnUpdateAndCommittedPastThePeer_isFollowedByThePeer(Database database) throws Exception {
    String address = "lost-update-" + UUID.randomUUID();
    TestNode.Builder aBuilder = TestNode.builder("a", database, Item.class).listenInProcess(address);
    a = aBuilder.start();
    TestNode.Builder bBuilder = TestNode.builder("b", database, Item.class).peers("inprocess:" + address);
    b = bBuilder.start();
    b.awaitConnected("a");
    Item kept = new Item("KEPT", "its update is lost", 1);
    a.inTransaction(em -> em.persist(kept));
    for (int i = 0; i < 3; i++) {
      a.inTransaction(em -> em.find(Item.class, kept.getId()).setQuantity(99));
      a.inTransaction(em -> em.find(Item.class, kept.getId()).setQuantity(98));
    }
    a.entanglement().caughtUp("b").get(20, TimeUnit.SECONDS);
    assertThat(b.find(Item.class, kept.getId()).getQuantity()).isEqualTo(98);
    b.close();
    b = null;

    // a's database loses the updates: the row and its bookkeeping are back at the insert's state
    a.inTransaction(em -> {
      em.createNativeQuery("UPDATE Item SET quantity = 1, version = 0 WHERE code = 'KEPT'").executeUpdate();
      em.createNativeQuery("UPDATE entanglement_object SET serial = 1").executeUpdate();
    });
    a.close();
    a = aBuilder.set("hibernate.hbm2ddl.auto", "update").start();
    for (int i = 1; i <= 10; i++) {
      int n = i;
      a.inTransaction(em -> em.persist(new Item("NEW-" + n, "after the loss", n)));
    }

    b = bBuilder.set("hibernate.hbm2ddl.auto", "update").start();
    b.awaitConnected("a");
    await().alias("b holds exactly what a holds").atMost(Duration.ofSeconds(30))
        .until(() -> b.table("Item").equals(a.table("Item")));
    assertThat(b.find(Item.class, kept.getId()).getQuantity()).isEqualTo(1);
  }

  /**
   * The same behind a relay (a - b - c): b's sweep removes the lost objects at b, and c, which got
   * them through b and reconnects to b after that, must lose them too (found by a 20-kill H2
   * campaign, seed 5655152390114428188: c kept such an object for good).
   */
  @ParameterizedTest
  @EnumSource(Database.class)
  void ownerThatLostCommits_isFollowedBehindARelay(Database database) throws Exception {
    String addressA = "lost-a-" + UUID.randomUUID();
    String addressB = "lost-b-" + UUID.randomUUID();
    TestNode.Builder aBuilder = TestNode.builder("a", database, Item.class).listenInProcess(addressA);
    a = aBuilder.start();
    TestNode.Builder bBuilder = TestNode.builder("b", database, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA);
    b = bBuilder.start();
    c = TestNode.builder("c", database, Item.class).peers("inprocess:" + addressB).start();
    b.awaitConnected("a");
    c.awaitConnected("b");
    for (int i = 1; i <= 3; i++) {
      int n = i;
      a.inTransaction(em -> em.persist(new Item("LOST-" + n, "committed, then lost by a's database", n)));
    }
    a.awaitCaughtUp("b");
    b.awaitCaughtUp("c");
    assertThat(c.all(Item.class)).hasSize(3);
    b.close();
    b = null;

    loseCommitsAndCommitPastThem(aBuilder);

    b = bBuilder.set("hibernate.hbm2ddl.auto", "update").start();
    await().alias("b and c hold exactly what a holds").atMost(Duration.ofSeconds(30))
        .until(() -> b.table("Item").equals(a.table("Item")) && c.table("Item").equals(a.table("Item")));
    assertThat(c.all(Item.class)).extracting(Item::getCode)
        .containsExactlyInAnyOrder("NEW-1", "NEW-2", "NEW-3", "NEW-4", "NEW-5");
  }


  private record Builders(TestNode.Builder a, TestNode.Builder b) {}

  /** a (running) committed three items that b (stopped now) holds; the builders start them again. */
  private Builders threeItemsHeldByAStoppedPeer(Database database, String prefix) throws Exception {
    String address = prefix + UUID.randomUUID();
    TestNode.Builder aBuilder = TestNode.builder("a", database, Item.class).listenInProcess(address);
    a = aBuilder.start();
    TestNode.Builder bBuilder = TestNode.builder("b", database, Item.class).peers("inprocess:" + address);
    b = bBuilder.start();
    b.awaitConnected("a");
    for (int i = 1; i <= 3; i++) {
      int n = i;
      a.inTransaction(em -> em.persist(new Item("LOST-" + n, "committed, then lost by a's database", n)));
    }
    a.entanglement().caughtUp("b").get(20, TimeUnit.SECONDS);
    assertThat(b.all(Item.class)).hasSize(3);
    b.close();
    b = null;
    return new Builders(aBuilder, bBuilder);
  }

  /**
   * a's database loses its commits (rows and bookkeeping alike), a starts again, and commits more
   * than its peers hold before they are back: serials 1 to 5 again, given to other objects.
   */
  private void loseCommitsAndCommitPastThem(TestNode.Builder aBuilder) {
    a.inTransaction(em -> {
      em.createNativeQuery("DELETE FROM Item").executeUpdate();
      em.createNativeQuery("DELETE FROM entanglement_object").executeUpdate();
    });
    a.close();
    a = aBuilder.set("hibernate.hbm2ddl.auto", "update").start();
    for (int i = 1; i <= 5; i++) {
      int n = i;
      a.inTransaction(em -> em.persist(new Item("NEW-" + n, "after the loss", n)));
    }
  }
}
