package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.StepHistory;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Step;
import io.grpc.Status;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A peer that was away receives every committed state of a {@code @Entangled(coalesce = false)}
 * type, in order, not only the latest one: what its database applied is recorded by a trigger on
 * the entity's table ({@link StepHistory}), so every intermediate write is seen.
 */
class EveryChangeCatchUpIntegrationTest {
  /** What a applies while b is away; b's database must write exactly this, in this order. */
  private static final List<String> WHILE_AWAY = List.of(
      "U S1 1", "U S1 2", "U S1 3", "I S2 10", "U S1 4", "U S2 11", "U S1 5", "D S2");

  private final List<TestNode> nodes = new ArrayList<>();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

  @AfterEach
  void close() {
    nodes.forEach(TestNode::close);
  }

  private TestNode track(TestNode node) {
    nodes.add(node);
    return node;
  }

  private TestNode.Builder owner(Database database, String address) {
    return TestNode.builder("a", database, Step.class).listenInProcess(address)
        .set(EntanglementSettings.METRICS_REGISTRY, meters);
  }

  private TestNode.Builder follower(Database database, String address) {
    return TestNode.builder("b", database, Step.class).peers("inprocess:" + address)
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200");
  }

  /** b holds S1 at 0 (and records its writes from now on), then goes away. */
  private TestNode connectedThenAway(TestNode a, TestNode b, Database database) {
    StepHistory.install(b, database);
    b.awaitConnected("a");
    a.inTransaction(em -> em.persist(new Step("S1", 0)));
    a.awaitCaughtUp("b");
    assertThat(StepHistory.of(b)).containsExactly("I S1 0");
    b.close();
    return b;
  }

  private static void changeWhileAway(TestNode a) {
    setAmount(a, "S1", 1);
    setAmount(a, "S1", 2);
    setAmount(a, "S1", 3);
    a.inTransaction(em -> em.persist(new Step("S2", 10)));
    setAmount(a, "S1", 4);
    setAmount(a, "S2", 11);
    setAmount(a, "S1", 5);
    a.inTransaction(em -> em.remove(em.find(Step.class, "S2")));
  }

  private static void setAmount(TestNode node, String id, int amount) {
    node.inTransaction(em -> em.find(Step.class, id).setAmount(amount));
  }

  private static long logged(TestNode node) {
    return ((Number) node.sql("SELECT COUNT(*) FROM entanglement_change_log")).longValue();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void peerAway_appliesEveryIntermediateStateInOrder(Database database) {
    String address = "every-change-" + UUID.randomUUID();
    TestNode a = track(owner(database, address).start());
    TestNode b = connectedThenAway(a, track(follower(database, address).start()), database);

    changeWhileAway(a);
    a.entanglement().runHousekeeping(); // b acknowledged nothing of these: they stay logged

    TestNode b2 = track(b.restart());
    b2.awaitConnected("a");
    a.awaitCaughtUp("b");
    List<String> expected = new ArrayList<>(List.of("I S1 0"));
    expected.addAll(WHILE_AWAY);
    assertThat(StepHistory.of(b2)).containsExactlyElementsOf(expected);
    assertThat(b2.table("Step")).isEqualTo(a.table("Step"));

    // every known peer has acknowledged the sequence: housekeeping removes it
    assertThat(logged(a)).isEqualTo(WHILE_AWAY.size());
    assertThat(meters.get("entanglement.changelog.entries").tags("node", "a").gauge().value())
        .isEqualTo(WHILE_AWAY.size());
    a.entanglement().runHousekeeping();
    assertThat(logged(a)).isZero();
    assertThat(meters.get("entanglement.changelog.entries").tags("node", "a").gauge().value()).isZero();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void outboxBoundReached_returningPeerGetsTheSequenceFromTheLog(Database database) throws Exception {
    String address = "every-change-bound-" + UUID.randomUUID();
    TestNode a = track(owner(database, address).set(EntanglementSettings.OUTBOX_MAX_ENTRIES, "5").start());
    try (RecordingPeer stalled = RecordingPeer.handshake(address, "b")) { // reads nothing after the Hello
      await().until(() -> a.entanglement().connectedPeers().contains("b"));
      a.inTransaction(em -> em.persist(new Step("S1", 0)));
      for (int i = 1; i <= 9; i++) {
        setAmount(a, "S1", i);
      }
      assertThat(stalled.awaitEnd().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    }
    await().until(() -> !a.entanglement().connectedPeers().contains("b"));

    // the outbox was dropped with the stream; b comes back (with its own database) and catches up
    TestNode b = track(TestNode.builder("b", database, Step.class).start());
    StepHistory.install(b, database);
    b.entanglement().connect("inprocess:" + address);
    b.awaitConnected("a");
    a.awaitCaughtUp("b");
    assertThat(StepHistory.of(b)).containsExactly("I S1 0", "U S1 1", "U S1 2", "U S1 3", "U S1 4", "U S1 5",
        "U S1 6", "U S1 7", "U S1 8", "U S1 9");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void ownerRestartedWhilePeerAway_sequenceSurvives(Database database) {
    String address = "every-change-restart-" + UUID.randomUUID();
    TestNode a = track(owner(database, address).start());
    TestNode b = connectedThenAway(a, track(follower(database, address).start()), database);

    changeWhileAway(a);
    TestNode a2 = track(a.restart());
    a2.entanglement().runHousekeeping(); // after the restart b is still known, and behind

    TestNode b2 = track(b.restart());
    b2.awaitConnected("a");
    a2.awaitCaughtUp("b");
    List<String> expected = new ArrayList<>(List.of("I S1 0"));
    expected.addAll(WHILE_AWAY);
    assertThat(StepHistory.of(b2)).containsExactlyElementsOf(expected);
    assertThat(b2.table("Step")).isEqualTo(a2.table("Step"));
  }
}
