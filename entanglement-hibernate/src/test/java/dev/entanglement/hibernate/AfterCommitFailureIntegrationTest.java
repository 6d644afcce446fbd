package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Failures after the commit (offering a committed change to a peer's outbox, a send policy that
 * throws) must never let the peer's position pass the change: it is sent from the database once
 * the failure is over, without a reconnect loop and without flooding the log.
 */
class AfterCommitFailureIntegrationTest {
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

  /** Throws for the objects whose codes are in {@code broken} while {@code failing}; counts its calls for them. */
  private static final class BrokenPolicy implements Policy {
    final Set<Object> broken = ConcurrentHashMap.newKeySet();
    final AtomicBoolean failing = new AtomicBoolean(true);
    final AtomicInteger brokenCalls = new AtomicInteger();

    @Override
    public Decision send(Peer peer, ObjectRef object) {
      if (object.entityType() == Item.class && object.entity() instanceof Item item && broken.contains(item.getCode())) {
        brokenCalls.incrementAndGet();
        if (failing.get()) {
          throw new IllegalStateException("policy backend unavailable");
        }
      }
      return Decision.abstain();
    }
  }

  @Test
  void sendPolicyThatThrows_neverLetsThePositionPassTheChange_whichArrivesOnceItStops() throws Exception {
    String address = "after-commit-" + UUID.randomUUID();
    BrokenPolicy policy = new BrokenPolicy();
    a = TestNode.builder("a", Database.H2, Item.class).listenInProcess(address)
        .set(EntanglementSettings.POLICY, policy).start();
    TestNode.Builder bBuilder = TestNode.builder("b", Database.H2, Item.class).peers("inprocess:" + address);
    b = bBuilder.start();
    b.awaitConnected("a");

    try (LogCapture logs = LogCapture.start()) {
      Item lost = new Item("X", "the policy throws for it", 1);
      policy.broken.add("X");
      a.inTransaction(em -> em.persist(lost));
      Item after = new Item("Y", "committed after it", 2);
      a.inTransaction(em -> em.persist(after));
      await().alias("the later change reached b").atMost(Duration.ofSeconds(20))
          .until(() -> b.find(Item.class, after.getId()) != null);
      assertThat(b.find(Item.class, lost.getId())).isNull();

      // b restarts: it resumes from its durable position, which must not be past the lost change
      b = b.restart();
      b.awaitConnected("a");
      Instant connectedSince = a.status("b").since();
      Item live = new Item("Z", "a live change while the policy still throws", 3);
      a.inTransaction(em -> em.persist(live));
      await().alias("live changes still flow").atMost(Duration.ofSeconds(20))
          .until(() -> b.find(Item.class, live.getId()) != null);
      // the policy keeps throwing for a while: retried with backoff on the same stream
      int callsBefore = policy.brokenCalls.get();
      await().pollDelay(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(3)).until(() -> true);
      assertThat(policy.brokenCalls.get() - callsBefore).as("retries in 2 s (backoff)").isLessThanOrEqualTo(6);
      assertThat(a.status("b").since()).as("no reconnect loop").isEqualTo(connectedSince);

      policy.failing.set(false);
      await().alias("the change the policy threw for reached b").atMost(Duration.ofSeconds(20))
          .until(() -> b.find(Item.class, lost.getId()) != null);
      a.entanglement().caughtUp("b").get(20, TimeUnit.SECONDS);
      assertThat(b.table("Item")).isEqualTo(a.table("Item"));
      assertThat(logs.warnings("peer 'b'", "Item#" + lost.getId(), "policy backend unavailable"))
          .as("logged naming the peer, the object and the exception, once a minute").hasSize(1);
    }
  }
}
