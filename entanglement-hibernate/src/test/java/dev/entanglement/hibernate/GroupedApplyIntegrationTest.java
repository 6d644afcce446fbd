package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A receiver behind its peer applies the messages that queued up meanwhile in one transaction
 * (one commit, one fsync on PostgreSQL, instead of one per message), and answers each message on
 * its own: every change lands, every message is acknowledged, nothing is rejected. PostgreSQL,
 * where the receiver can be held back exactly: the test locks its bookkeeping table until the
 * sender's messages have arrived.
 */
class GroupedApplyIntegrationTest {
  private static final int ROWS = 12;
  private final List<TestNode> nodes = new ArrayList<>();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

  @AfterEach
  void close() {
    nodes.forEach(TestNode::close);
  }

  @Test
  void messagesThatQueuedUpAtASlowReceiver_areAppliedTogether_andEachIsAnswered() throws Exception {
    String address = "grouped-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", Database.POSTGRESQL, Item.class).listenInProcess(address)
        .set(EntanglementSettings.OUTBOX_BATCH_SIZE, "1").start()); // one change per message
    TestNode.Builder bBuilder = TestNode.builder("b", Database.POSTGRESQL, Item.class).peers("inprocess:" + address)
        .set(EntanglementSettings.METRICS_REGISTRY, meters);
    TestNode b = track(bBuilder.start());
    b.awaitConnected("a");

    try (TestNode.HeldConnection held = b.connection()) {
      Connection holding = held.jdbc();
      holding.setAutoCommit(false);
      try (Statement lock = holding.createStatement()) {
        lock.execute("LOCK TABLE entanglement_object IN ACCESS EXCLUSIVE MODE"); // b's applies wait
      }
      for (int i = 0; i < ROWS; i++) {
        int n = i;
        a.inTransaction(em -> em.persist(new Item("grouped-" + n, "x", n)));
      }
      // the first message waits on the lock; the next ones (up to the apply window, 4) queue up behind it
      await().atMost(Duration.ofSeconds(20)).until(() -> b.status("a").changesReceived() >= 4);
      holding.rollback();
    }

    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).isEqualTo(a.table("Item")).hasSize(ROWS);
    assertThat(b.status("a").changesRejectedHere()).isZero();
    long received = b.status("a").changesReceived();
    long transactions = meters.get("entanglement.apply.batch").timer().count();
    assertThat(received).as("one change per message").isEqualTo(ROWS);
    assertThat(transactions).as("apply transactions for %d messages", received).isLessThanOrEqualTo(received - 2);
  }

  private TestNode track(TestNode node) {
    nodes.add(node);
    return node;
  }
}
