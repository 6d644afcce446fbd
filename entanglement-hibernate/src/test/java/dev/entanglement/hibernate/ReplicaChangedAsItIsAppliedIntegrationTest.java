package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.FailingDataSource;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The application changes a replica the moment it becomes visible, before the plugin's apply
 * thread has done anything after its commit. The change must still become an update request to
 * the owner: found by the crash harness, where the receiver took such objects over as its own
 * (its capture saw no remote owner yet) and stayed different from the owner for good.
 */
class ReplicaChangedAsItIsAppliedIntegrationTest {
  private TestNode a;
  private TestNode b;

  @AfterEach
  void close() {
    for (TestNode node : new TestNode[] {b, a}) {
      if (node != null) {
        node.close();
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void replicaChangedRightAfterItsApplyCommits_becomesARequestToItsOwner(Database database) throws Exception {
    String address = "race-" + UUID.randomUUID();
    a = TestNode.builder("a", database, Item.class).listenInProcess(address).start();
    TestNode.Builder builder = TestNode.builder("b", database, Item.class).peers("inprocess:" + address);
    FailingDataSource dataSource = builder.failingDatabase();
    CompletableFuture<Void> renamed = new CompletableFuture<>();
    // right after b's apply transaction of the new item commits, on the apply thread, b's
    // application renames the item it can now read
    dataSource.afterCommit("insert into Item", () -> {
      try {
        b.inTransaction(em -> em.createQuery("select i from Item i", Item.class).getResultList()
            .forEach(item -> item.setName("renamed at b")));
        renamed.complete(null);
      } catch (RuntimeException e) {
        renamed.completeExceptionally(e);
      }
    });
    b = builder.start();
    b.awaitConnected("a");

    Item item = new Item("RACE", "created at a", 1);
    a.inTransaction(em -> em.persist(item));
    renamed.get(20, TimeUnit.SECONDS);

    await().alias("a decides b's rename and b holds a's state").atMost(Duration.ofSeconds(20))
        .until(() -> "renamed at b".equals(a.find(Item.class, item.getId()).getName())
            && b.table("Item").equals(a.table("Item")));
    assertThat(b.entanglement().ownerOf(Item.class, item.getId())).contains("a");
    assertThat(b.sql("select owner_node from entanglement_object where object_id = '" + item.getId() + "'"))
        .isEqualTo("a");
  }
}
