package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.BrowserClient;
import dev.entanglement.hibernate.testing.TokenIdentity;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Automatic withdrawal (issue 17): a change that makes an object denied for a peer that may hold
 * it removes the peer's copy (the object lives on at its owner); a peer that never could hold it
 * hears nothing of it.
 */
class WithdrawalIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(15);
  private final List<AutoCloseable> closeables = new ArrayList<>();
  /** The database of the nodes a test starts: H2, or what a parameterized test sets. */
  private Database database = Database.H2;

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private <T extends AutoCloseable> T track(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  /** Large stocks (quantity over 100) are not shared with 'b': a decision on the object's state. */
  static final class LargeStocksNotForB implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(peer.name().equals("b") && object.entity() instanceof Item item && item.getQuantity() > 100,
          "large stocks are not shared with 'b'");
    }
  }

  /** Each named peer sees items up to a quantity (a decision on the object's state); others see all. */
  record UpTo(Map<String, Integer> limits) implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      Integer limit = limits.get(peer.name());
      return Decision.denyIf(limit != null && object.entity() instanceof Item item && item.getQuantity() > limit,
          "'" + peer.name() + "' sees stocks up to " + limit);
    }
  }

  private static List<Change> about(RecordingPeer peer, UUID id) {
    return peer.changes().stream().filter(c -> c.getId().getUuid().equals(id.toString())).toList();
  }

  private TestNode node(String name, String listen, String peers, Policy policy) {
    return node(name, listen, peers, policy, null);
  }

  private TestNode node(String name, String listen, String peers, Policy policy, SimpleMeterRegistry meters) {
    TestNode.Builder builder = TestNode.builder(name, database, Item.class);
    if (meters != null) {
      builder.set(EntanglementSettings.METRICS_REGISTRY, meters);
    }
    if (listen != null) {
      builder.listenInProcess(listen);
    }
    if (peers != null) {
      builder.peers(peers);
    }
    if (policy != null) {
      builder.set(EntanglementSettings.POLICY, policy);
    }
    return track(builder.start());
  }

  @Test
  void aChangeThatMakesAnObjectDeniedWithdrawsItFromThePeerThatHeldIt() {
    String address = "wd-two-" + UUID.randomUUID();
    SimpleMeterRegistry metersA = new SimpleMeterRegistry();
    SimpleMeterRegistry metersB = new SimpleMeterRegistry();
    TestNode a = node("a", address, null, new LargeStocksNotForB(), metersA);
    TestNode b = node("b", null, "inprocess:" + address, null, metersB);
    b.awaitConnected("a");
    Item item = new Item("W1", "small stock", 5);
    a.inTransaction(em -> em.persist(item));
    await().alias("b holds the small stock").atMost(WAIT).until(() -> b.find(Item.class, item.getId()) != null);

    a.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(500));
    await().alias("b's copy is withdrawn").atMost(WAIT).until(() -> b.find(Item.class, item.getId()) == null);
    assertThat(a.find(Item.class, item.getId()).getQuantity()).as("the object lives on at its owner").isEqualTo(500);
    // applications see it in the metrics (there is no change listener yet)
    assertThat(metersA.get("entanglement.withdrawals").tag("direction", "sent").counter().count()).isEqualTo(1.0);
    assertThat(metersB.get("entanglement.withdrawals").tag("direction", "applied").counter().count()).isEqualTo(1.0);

    // granted again by the next change: the withdrawn copy comes back with the new state
    a.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(7));
    await().alias("b holds it again").atMost(WAIT).until(() -> b.find(Item.class, item.getId()) != null
        && b.find(Item.class, item.getId()).getQuantity() == 7);
  }

  @Test
  void aPeerThatNeverCouldHoldTheObjectHearsNothingOfIt_onTheWire() {
    String address = "wd-frames-" + UUID.randomUUID();
    TestNode a = node("a", address, null, new UpTo(Map.of("b", 100, "c", 2)));
    TestNode b = node("b", null, "inprocess:" + address, null);
    RecordingPeer c = track(RecordingPeer.handshake(address, "c"));
    c.request(10_000);
    b.awaitConnected("a");
    Item x = new Item("X", "never for c", 5);
    Item y = new Item("Y", "for c at first", 1);
    a.inTransaction(em -> {
      em.persist(x);
      em.persist(y);
    });
    await().atMost(WAIT).until(() -> !about(c, y.getId()).isEmpty() && b.find(Item.class, x.getId()) != null);

    a.inTransaction(em -> {
      em.find(Item.class, x.getId()).setQuantity(500);
      em.find(Item.class, y.getId()).setQuantity(500);
    });
    await().alias("b's copy of X is withdrawn").atMost(WAIT).until(() -> b.find(Item.class, x.getId()) == null);
    await().alias("c is told Y is withdrawn").atMost(WAIT).until(() -> about(c, y.getId()).stream()
        .anyMatch(change -> change.getOperation() == Operation.WITHDRAW));
    a.awaitCaughtUp("b");
    Change withdrawal = about(c, y.getId()).get(about(c, y.getId()).size() - 1);
    assertThat(withdrawal.getAttributesList()).as("a withdrawal carries no state").isEmpty();
    assertThat(withdrawal.getOwner()).isEqualTo("a");
    // X was never allowed to c: not its state, not its withdrawal, not its id
    assertThat(c.received()).as("frames sent to c").noneMatch(envelope -> envelope.toString().contains(x.getId().toString()));
  }

  @Test
  void aPeerAwayDuringTheChangeGetsTheWithdrawalOnCatchUp_alsoAfterTheOwnerRestarted() {
    String address = "wd-away-" + UUID.randomUUID();
    TestNode a = node("a", address, null, new LargeStocksNotForB());
    TestNode b = node("b", null, "inprocess:" + address, null);
    b.awaitConnected("a");
    Item gone = new Item("G", "grows while b is away", 5);
    Item kept = new Item("K", "changes while b is away", 5);
    a.inTransaction(em -> {
      em.persist(gone);
      em.persist(kept);
    });
    a.awaitCaughtUp("b");
    assertThat(b.find(Item.class, gone.getId())).isNotNull();
    TestNode.Builder bAgain = b.again();
    b.close();

    a.inTransaction(em -> em.find(Item.class, gone.getId()).setQuantity(500));
    a.inTransaction(em -> em.find(Item.class, gone.getId()).setName("grown and renamed"));
    a.inTransaction(em -> em.find(Item.class, kept.getId()).setQuantity(6));
    TestNode a2 = track(a.restart()); // nothing in memory survives: the prior state is in a's database
    TestNode b2 = track(bAgain.start());
    await().alias("b gets the withdrawal on catch-up").atMost(WAIT).until(() -> b2.find(Item.class, gone.getId()) == null);
    await().atMost(WAIT).until(() -> b2.find(Item.class, kept.getId()).getQuantity() == 6);
    assertThat(a2.find(Item.class, gone.getId()).getName()).isEqualTo("grown and renamed");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void throughAGateway_aStateDeniedAtTheOwnerOrAtTheGatewayIsWithdrawnDownstream_andNeverReachesOthers(Database database) {
    this.database = database;
    String staffAddress = "wd-staff-" + UUID.randomUUID();
    String rangeAddress = "wd-range-" + UUID.randomUUID();
    // staff shows range stocks up to 1000; range shows red stocks up to 100, and blue none above 1
    TestNode staff = node("staff", staffAddress, null, new UpTo(Map.of("range", 1000)));
    TestNode range = node("range", rangeAddress, "inprocess:" + staffAddress, new UpTo(Map.of("red", 100, "blue", 1)));
    TestNode red = node("red", null, "inprocess:" + rangeAddress, null);
    RecordingPeer blue = track(RecordingPeer.handshake(rangeAddress, "blue"));
    blue.request(10_000);
    red.awaitConnected("range");
    range.awaitConnected("staff");
    Item atRange = new Item("R", "denied by range for red", 5);
    Item atStaff = new Item("S", "denied by staff for range", 5);
    staff.inTransaction(em -> {
      em.persist(atRange);
      em.persist(atStaff);
    });
    await().alias("red holds both").atMost(WAIT).until(() -> red.find(Item.class, atRange.getId()) != null
        && red.find(Item.class, atStaff.getId()) != null);

    staff.inTransaction(em -> {
      em.find(Item.class, atRange.getId()).setQuantity(500);
      em.find(Item.class, atStaff.getId()).setQuantity(5000);
    });
    await().alias("range withdraws R from red").atMost(WAIT).until(() -> red.find(Item.class, atRange.getId()) == null);
    await().alias("staff withdraws S from range, range passes it on to red").atMost(WAIT)
        .until(() -> range.find(Item.class, atStaff.getId()) == null && red.find(Item.class, atStaff.getId()) == null);
    assertThat(range.find(Item.class, atRange.getId()).getQuantity()).as("range may hold R at 500").isEqualTo(500);
    assertThat(staff.find(Item.class, atStaff.getId()).getQuantity()).isEqualTo(5000);
    range.awaitCaughtUp("red");
    // blue was never allowed either: nothing about them crossed its stream
    assertThat(blue.received()).noneMatch(envelope -> envelope.toString().contains(atRange.getId().toString())
        || envelope.toString().contains(atStaff.getId().toString()));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aPeerAwayFromTheGatewayGetsTheGatewaysWithdrawalOnCatchUp_alsoAfterTheGatewayRestarted(Database database) {
    this.database = database;
    String staffAddress = "wd-away-staff-" + UUID.randomUUID();
    String rangeAddress = "wd-away-range-" + UUID.randomUUID();
    TestNode staff = node("staff", staffAddress, null, null);
    TestNode range = node("range", rangeAddress, "inprocess:" + staffAddress, new UpTo(Map.of("red", 100)));
    TestNode red = node("red", null, "inprocess:" + rangeAddress, null);
    red.awaitConnected("range");
    Item item = new Item("RA", "grows while red is away from range", 5);
    staff.inTransaction(em -> em.persist(item));
    await().alias("red holds it").atMost(WAIT).until(() -> red.find(Item.class, item.getId()) != null);
    range.awaitCaughtUp("red");
    TestNode.Builder redAgain = red.again();
    red.close();

    staff.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(500));
    await().alias("range has the new state").atMost(WAIT)
        .until(() -> range.find(Item.class, item.getId()).getQuantity() == 500);
    TestNode range2 = track(range.restart()); // the prior state is in range's database, not in its memory
    TestNode red2 = track(redAgain.start());
    red2.awaitConnected("range");
    await().alias("red, back, gets range's withdrawal").atMost(WAIT).until(() -> red2.find(Item.class, item.getId()) == null);
    assertThat(range2.find(Item.class, item.getId()).getQuantity()).isEqualTo(500);
  }

  @Test
  void aSweepAtTheGatewayIsPassedOnDownstream() {
    String staffAddress = "wd-sweep-staff-" + UUID.randomUUID();
    String rangeAddress = "wd-sweep-range-" + UUID.randomUUID();
    AtomicBoolean shareWithRange = new AtomicBoolean(true);
    Policy staffPolicy = new Policy() {
      @Override
      public Decision send(Peer peer, ObjectRef object) {
        return Decision.denyIf(peer.name().equals("range") && !shareWithRange.get(), "range's share was revoked");
      }
    };
    TestNode staff = node("staff", staffAddress, null, staffPolicy);
    TestNode range = node("range", rangeAddress, "inprocess:" + staffAddress, null);
    TestNode red = node("red", null, "inprocess:" + rangeAddress, null);
    red.awaitConnected("range");
    Item item = new Item("SW", "swept at range", 5);
    staff.inTransaction(em -> em.persist(item));
    await().alias("red holds it").atMost(WAIT).until(() -> red.find(Item.class, item.getId()) != null);

    shareWithRange.set(false);
    staff.entanglement().policyChanged();
    await().alias("range swept it").atMost(WAIT).until(() -> range.find(Item.class, item.getId()) == null);
    await().alias("red lost it with range").atMost(WAIT).until(() -> red.find(Item.class, item.getId()) == null);
    assertThat(staff.find(Item.class, item.getId())).isNotNull();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aSweepAtTheGatewayReachesAPeerThatWasAwayFromIt(Database database) {
    this.database = database;
    String staffAddress = "wd-sweep-away-staff-" + UUID.randomUUID();
    String rangeAddress = "wd-sweep-away-range-" + UUID.randomUUID();
    AtomicBoolean shareWithRange = new AtomicBoolean(true);
    Policy staffPolicy = new Policy() {
      @Override
      public Decision send(Peer peer, ObjectRef object) {
        return Decision.denyIf(peer.name().equals("range") && !shareWithRange.get(), "range's share was revoked");
      }
    };
    TestNode staff = node("staff", staffAddress, null, staffPolicy);
    TestNode range = node("range", rangeAddress, "inprocess:" + staffAddress, null);
    TestNode red = node("red", null, "inprocess:" + rangeAddress, null);
    red.awaitConnected("range");
    Item item = new Item("SWA", "swept at range while red is away", 5);
    staff.inTransaction(em -> em.persist(item));
    await().alias("red holds it").atMost(WAIT).until(() -> red.find(Item.class, item.getId()) != null);
    range.awaitCaughtUp("red");
    TestNode.Builder redAgain = red.again();
    red.close();

    shareWithRange.set(false);
    staff.entanglement().policyChanged();
    await().alias("range swept it").atMost(WAIT).until(() -> range.find(Item.class, item.getId()) == null);
    TestNode red2 = track(redAgain.start());
    red2.awaitConnected("range");
    await().alias("red, back, lost it too").atMost(WAIT).until(() -> red2.find(Item.class, item.getId()) == null);
  }

  /** Who is online, and how. */
  public record Presence(String user, String status) {}

  /** Peers named here are not shown presences with these statuses (a decision on the object's state). */
  record Hidden(Map<String, String> statusHiddenFrom, AtomicBoolean hideAllFromRed) implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      if (!(object.entity() instanceof Presence presence)) {
        return Decision.abstain();
      }
      if (peer.name().equals("red") && hideAllFromRed.get()) {
        return Decision.deny("red sees no presence now");
      }
      return Decision.denyIf(peer.name().equals(statusHiddenFrom.get(presence.status())) || peer.name().equals("blue"),
          "'" + peer.name() + "' is not shown '" + presence.status() + "' presences");
    }
  }

  @Test
  void ephemeralObjects_areWithdrawnThroughAGateway_andByAChangedPolicy_andNeverNamedToOthers() {
    String staffAddress = "wd-eph-staff-" + UUID.randomUUID();
    String rangeAddress = "wd-eph-range-" + UUID.randomUUID();
    AtomicBoolean never = new AtomicBoolean(false);
    AtomicBoolean hideAllFromRed = new AtomicBoolean(false);
    TestNode staff = node("staff", staffAddress, null, new Hidden(Map.of("secret", "range"), never));
    TestNode range = node("range", rangeAddress, "inprocess:" + staffAddress,
        new Hidden(Map.of("invisible", "red"), hideAllFromRed));
    TestNode red = node("red", null, "inprocess:" + rangeAddress, null);
    RecordingPeer blue = track(RecordingPeer.handshake(rangeAddress, "blue"));
    blue.request(10_000);
    red.awaitConnected("range");
    range.awaitConnected("staff");
    EphemeralObjects<Presence> atStaff = staff.entanglement().ephemeral(Presence.class);
    EphemeralObjects<Presence> atRange = range.entanglement().ephemeral(Presence.class);
    EphemeralObjects<Presence> atRed = red.entanglement().ephemeral(Presence.class);
    List<String> removedAtRed = new java.util.concurrent.CopyOnWriteArrayList<>();
    atRed.subscribe(new EphemeralObjects.Listener<>() {
      @Override
      public void updated(String id, Presence value, String owner) {}

      @Override
      public void removed(String id, String owner) {
        removedAtRed.add(id);
      }
    });
    atStaff.put("hq-invisible", new Presence("ana", "online"));
    atStaff.put("hq-secret", new Presence("bob", "online"));
    atStaff.put("hq-revoked", new Presence("cid", "online"));
    await().alias("red sees all three").atMost(WAIT).until(() -> atRed.all().size() == 3);

    atStaff.put("hq-invisible", new Presence("ana", "invisible")); // denied by range for red
    atStaff.put("hq-secret", new Presence("bob", "secret"));       // denied by staff for range
    await().alias("range withdrew hq-invisible from red").atMost(WAIT).until(() -> atRed.get("hq-invisible").isEmpty());
    await().alias("staff withdrew hq-secret from range, which passed it on").atMost(WAIT)
        .until(() -> atRange.get("hq-secret").isEmpty() && atRed.get("hq-secret").isEmpty());
    assertThat(atRange.get("hq-invisible")).as("range may hold it").hasValue(new Presence("ana", "invisible"));
    assertThat(atStaff.get("hq-secret")).as("it lives on at its owner").isPresent();

    hideAllFromRed.set(true);
    range.entanglement().policyChanged();
    await().alias("a changed policy withdraws hq-revoked").atMost(WAIT).until(() -> atRed.get("hq-revoked").isEmpty());
    assertThat(atRange.get("hq-revoked")).isPresent();
    await().atMost(WAIT).until(() -> removedAtRed.containsAll(List.of("hq-invisible", "hq-secret", "hq-revoked")));
    range.awaitCaughtUp("blue");
    assertThat(blue.received()).as("blue was never shown a presence").noneMatch(envelope -> envelope.toString().contains("hq-"));
  }

  @Test
  void aBrowserIsSentTheWithdrawal_overItsWebSocket_andABrowserNeverAllowedHearsNothing() {
    TestNode hq = track(TestNode.builder("hq", database, Item.class)
        .set(EntanglementSettings.POLICY, new UpTo(Map.of("red.alice", 100, "blue.bob", 2)))
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, new TokenIdentity())
        .start());
    String web = hq.entanglement().webAddress().orElseThrow();
    BrowserClient alice = track(BrowserClient.connect(web, "/entanglement?token=alice-secret"));
    BrowserClient bob = track(BrowserClient.connect(web, "/entanglement?token=bob-secret"));
    alice.hello(Map.of());
    bob.hello(Map.of());
    alice.await(Envelope::hasHello);
    bob.await(Envelope::hasHello);
    Item card = new Item("CARD", "a card in a lane alice may see", 5);
    hq.inTransaction(em -> em.persist(card));
    alice.await(envelope -> envelope.hasChanges() && envelope.getChanges().getChangesList().stream()
        .anyMatch(change -> change.getId().getUuid().equals(card.getId().toString())));

    hq.inTransaction(em -> em.find(Item.class, card.getId()).setQuantity(500));
    Envelope withdrawal = alice.await(envelope -> envelope.hasChanges() && envelope.getChanges().getChangesList()
        .stream().anyMatch(change -> change.getOperation() == Operation.WITHDRAW));
    assertThat(withdrawal.getChanges().getChanges(0).getId().getUuid()).isEqualTo(card.getId().toString());
    hq.awaitCaughtUp("blue.bob");
    hq.awaitCaughtUp("red.alice");
    assertThat(bob.received()).as("frames sent to bob's browser")
        .noneMatch(envelope -> envelope.toString().contains(card.getId().toString()));
  }
}
