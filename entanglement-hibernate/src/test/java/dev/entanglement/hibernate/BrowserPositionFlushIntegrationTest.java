package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.BrowserClient;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.TokenIdentity;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Envelope;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A browser that sees few of an owner's changes is told how far its position of that owner moved
 * at most about once a second, not after every commit: with a batch per commit (at most one per
 * 20 ms, as for nodes), 1,000 tabs each seeing 3% of 100 changes/s received about 35 frames a
 * second each, nearly all position-only batches, and answered every one (the browsers
 * benchmark, section 11). The position still arrives: a tab names it in its next Hello.
 */
class BrowserPositionFlushIntegrationTest {
  /** Changes spread over this long, one every 20 ms: one position-only batch each, before. */
  private static final int HIDDEN_CHANGES = 100;
  private static final long SPACING_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  private TestNode hq;
  private BrowserClient alice;

  /** Browsers see the items whose code does not start with "hidden". */
  static final class HiddenPolicy implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(peer.browser() && object.entity() instanceof Item item && item.getCode().startsWith("hidden"),
          "hidden items are not shown to browsers");
    }
  }

  @AfterEach
  void close() {
    if (alice != null) {
      alice.close();
    }
    if (hq != null) {
      hq.close();
    }
  }

  @Test
  void aBrowserSeeingNoneOfAStreamOfChangesGetsItsPositionAboutOnceASecond() {
    hq = TestNode.builder("hq", Database.H2, Item.class)
        .set(EntanglementSettings.POLICY, new HiddenPolicy())
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, new TokenIdentity())
        .start();
    alice = BrowserClient.connect(hq.entanglement().webAddress().orElseThrow(), "/entanglement?token=alice-secret");
    alice.hello(Map.of());
    alice.await(Envelope::hasHello);

    // one item alice sees: hq is an owner she holds, so her batches carry hq's position
    Item shown = new Item("shown", "shown", 1);
    hq.inTransaction(em -> em.persist(shown));
    alice.await(e -> e.hasChanges() && e.getChanges().getChangesList().stream()
        .anyMatch(c -> c.getId().getUuid().equals(shown.getId().toString())));
    await().atMost(Duration.ofSeconds(20)).until(() -> alice.positions().containsKey("hq"));
    long before = alice.positions().get("hq");
    int mark = alice.received().size();

    // a stream of changes she does not see, one every 20 ms for 2 s
    long start = System.nanoTime();
    long next = start;
    for (int i = 0; i < HIDDEN_CHANGES; i++) {
      for (long wait = next - System.nanoTime(); wait > 0; wait = next - System.nanoTime()) {
        LockSupport.parkNanos(wait); // the workload's pace, not a wait for a condition
      }
      next += SPACING_NANOS;
      Item hidden = new Item("hidden-" + i, "hidden " + i, i);
      hq.inTransaction(em -> em.persist(hidden));
    }
    // she is still told how far she holds hq: past every hidden change (one serial each)
    await().atMost(Duration.ofSeconds(20)).until(() -> alice.positions().get("hq") >= before + HIDDEN_CHANGES);
    double seconds = (System.nanoTime() - start) / 1e9;

    List<Envelope> since = alice.received().subList(mark, alice.received().size());
    assertThat(since).filteredOn(e -> e.hasChanges()).allMatch(e -> e.getChanges().getChangesCount() == 0,
        "position-only batches: she sees none of the hidden items");
    long positionBatches = since.stream().filter(Envelope::hasChanges).count();
    assertThat(positionBatches)
        .as("position-only batches over %.1f s of %d commits (about one a second expected)", seconds, HIDDEN_CHANGES)
        .isLessThanOrEqualTo((long) Math.ceil(seconds) + 1);
  }
}
