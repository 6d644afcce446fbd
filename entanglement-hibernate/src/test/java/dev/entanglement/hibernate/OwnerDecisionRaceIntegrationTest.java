package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An owner deciding a forwarded update while its own application commits the same row: the
 * decision's versioned update finds the row changed under it. That is a race, not a verdict: the
 * decision is taken again on the new state and answered as that one decides. Before, it was
 * refused {@code INTERNAL} ("Could not decide a request", seen in
 * OwnershipTransferIntegrationTest on a loaded CI machine), a final answer to a retryable failure.
 * PostgreSQL, where the race can be staged exactly: the test holds the row's lock with an update
 * of its own until the decision waits on it.
 */
class OwnerDecisionRaceIntegrationTest {
  private final List<TestNode> nodes = new ArrayList<>();

  @AfterEach
  void close() {
    nodes.forEach(TestNode::close);
  }

  @Test
  void aDecisionWhoseRowChangedUnderIt_isTakenAgain_notRefusedAsInternal() throws Exception {
    String address = "decision-race-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", Database.POSTGRESQL, Item.class).listenInProcess(address).start());
    TestNode b = track(TestNode.builder("b", Database.POSTGRESQL, Item.class).peers("inprocess:" + address).start());
    b.awaitConnected("a");
    Item item = new Item("raced", "before", 1);
    a.inTransaction(em -> em.persist(item));
    a.awaitCaughtUp("b");

    CompletableFuture<Item> request;
    try (TestNode.HeldConnection held = a.connection()) {
      Connection racing = held.jdbc();
      racing.setAutoCommit(false);
      try (PreparedStatement update = racing.prepareStatement(
          "update Item set quantity = 2, version = version + 1 where id = ?")) {
        update.setObject(1, item.getId());
        assertThat(update.executeUpdate()).isEqualTo(1);
      }
      request = b.entanglement().update(Item.class, item.getId(), it -> it.setName("from b"));
      await().alias("the owner's decision waits for the row").atMost(Duration.ofSeconds(20))
          .until(() -> ((Number) a.sql("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
              + "and query ilike 'update item%'")).longValue() == 1);
      racing.commit();
    }

    // the decision taken again on the new state: the request was made from version 0, the row is at 1 now
    assertThat(request).failsWithin(Duration.ofSeconds(20)).withThrowableOfType(ExecutionException.class)
        .havingCause().isInstanceOf(UpdateRequestException.Conflict.class)
        .withMessageContaining("changed at its owner 'a' since the version the request was made from");
    request.exceptionally(e -> null).get(1, TimeUnit.SECONDS);
  }

  private TestNode track(TestNode node) {
    nodes.add(node);
    return node;
  }
}
