package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Ephemeral objects on the wire, driven by hand-made peers ({@link RecordingPeer}) around one
 * node: in-band rejections, ownership, ordering across an owner's restarts, coalescing behind a
 * paused stream, what disappears with a stream, path-lost notices, and types the node has not
 * registered.
 */
class EphemeralWireIntegrationTest {
  /** Who is online and where their cursor is. */
  public record Presence(String user, String status, int cursor) {}

  /** A type the node registers late, or never. */
  public record Cursor(String user, int x, int y) {}

  /** Named like the {@link dev.entanglement.hibernate.testing.model.Item} entity. */
  public record Item(String code) {}

  private final List<AutoCloseable> closeables = new ArrayList<>();
  private String address;
  private TestNode node;

  @BeforeEach
  void start() {
    address = "eph-wire-" + UUID.randomUUID();
    node = track(TestNode.builder("a", Database.H2, dev.entanglement.hibernate.testing.model.Item.class)
        .listenInProcess(address).start());
  }

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

  private EphemeralObjects<Presence> presence() {
    return node.entanglement().ephemeral(Presence.class);
  }

  private static Value text(String s) {
    return Value.newBuilder().setText(s).build();
  }

  private static Value integer(long i) {
    return Value.newBuilder().setInteger(i).build();
  }

  private static Attribute attribute(String name, Value value) {
    return Attribute.newBuilder().setName(name).setValue(value).build();
  }

  /** A well-formed Presence state from {@code owner}. */
  private static Change.Builder presence(String id, String owner, long incarnation, long serial, String status) {
    return Change.newBuilder().setEphemeral(true).setEntity("Presence").setId(text(id)).setOwner(owner)
        .setEpoch(incarnation).setSerial(serial).setOperation(Operation.UPSERT)
        .addAttributes(attribute("user", text(id)))
        .addAttributes(attribute("status", text(status)))
        .addAttributes(attribute("cursor", integer(1)));
  }

  private static Change pathLost(Change held) {
    return held.toBuilder().setOperation(Operation.DELETE).clearAttributes().setEphemeralPathLost(true).build();
  }

  private static Outcome send(RecordingPeer peer, Change change) {
    List<Outcome> outcomes = peer.awaitAck(peer.sendChanges(change)).getOutcomesList();
    assertThat(outcomes).hasSize(1);
    return outcomes.get(0);
  }

  private static void assertRejected(RecordingPeer peer, Change change, RejectReason reason, String message) {
    Outcome outcome = send(peer, change);
    assertThat(outcome.getStatus()).isEqualTo(OutcomeStatus.REJECTED);
    assertThat(outcome.getReason()).isEqualTo(reason);
    assertThat(outcome.getMessage()).isEqualTo(message);
  }

  private static List<Change> received(RecordingPeer peer, String id) {
    return peer.changes().stream().filter(c -> c.getEphemeral() && c.getId().getText().equals(id)).toList();
  }

  @Test
  void badEphemeralObjects_areRejectedInBandWithTheirReason_nothingIsParked_andTheStreamGoesOn() {
    presence().put("ana", new Presence("ana", "online", 0));
    RecordingPeer probe = track(RecordingPeer.handshake(address, "probe"));
    probe.request(100); // room for the node's own objects and the acks
    assertRejected(probe, presence("x", "probe", 1, 1, "on").setEntity("").build(),
        RejectReason.MALFORMED, "ephemeral object without a type");
    assertRejected(probe, presence("x", "probe", 1, 1, "on").setId(integer(7)).build(),
        RejectReason.MALFORMED, "ephemeral Presence without an id (ephemeral ids are non-empty text, got an integer)");
    assertRejected(probe, presence("x", "", 1, 1, "on").build(),
        RejectReason.MALFORMED, "ephemeral Presence 'x' without an owner");
    assertRejected(probe, presence("x", "probe", 1, 1, "on").setOperation(Operation.OPERATION_UNSPECIFIED).build(),
        RejectReason.MALFORMED, "ephemeral Presence 'x' with operation OPERATION_UNSPECIFIED; expected UPSERT, DELETE or WITHDRAW");
    assertRejected(probe, presence("x", "probe", 1, 1, "on").addAttributes(attribute("mood", text("sunny"))).build(),
        RejectReason.UNKNOWN_ATTRIBUTE, "ephemeral type Presence has no component 'mood'; it has [cursor, status, user]");
    assertRejected(probe, presence("x", "probe", 1, 1, "on").setAttributes(2, attribute("cursor", text("far"))).build(),
        RejectReason.WRONG_TYPE, "Presence.cursor expects an integer (int), got text");
    assertRejected(probe, presence("x", "probe", 1, 1, "on").setAttributes(2, attribute("cursor", integer(1L << 40))).build(),
        RejectReason.WRONG_TYPE, "Presence.cursor is a int; 1099511627776 is out of its range");
    assertRejected(probe, presence("x", "probe", 1, 1, "on")
            .setAttributes(2, attribute("cursor", Value.newBuilder().setNull(true).build())).build(),
        RejectReason.WRONG_TYPE, "Presence.cursor is a primitive int and cannot be null");
    // a peer cannot speak for this node, nor take over an object another node owns
    assertRejected(probe, presence("x", "a", 1, 1, "on").build(),
        RejectReason.NOT_OWNER, "ephemeral Presence 'x' claims owner 'a', which is this node");
    assertRejected(probe, presence("ana", "probe", 1, 1, "hijacked").build(),
        RejectReason.NOT_OWNER, "ephemeral Presence 'ana' is owned by 'a'; 'probe' cannot change it");

    assertThat(presence().get("ana")).contains(new Presence("ana", "online", 0));
    assertThat(presence().get("x")).isEmpty();
    assertThat(send(probe, presence("x", "probe", 1, 2, "fine").build()).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(presence().get("x")).contains(new Presence("x", "fine", 1));
    assertThat(presence().ownerOf("x")).contains("probe");
    assertThat(probe.isOpen()).isTrue();
    assertThat(node.entanglement().parkedChanges()).isZero();
    assertThat(((Number) node.sql("select count(*) from entanglement_parked")).longValue()).isZero();
  }

  @Test
  void thousandUpdates_whileTheStreamIsNotReady_leaveOneWaitingState_sentOnceAsTheLatest() {
    RecordingPeer slow = track(RecordingPeer.handshake(address, "slow"));
    // the peer has granted no message beyond the Hello: the node's stream is not ready
    for (int i = 0; i < 1000; i++) {
      presence().put("zoe", new Presence("zoe", "typing", i));
    }
    // sends are queued in order behind the puts (which never wait): wait until all are offered
    await().atMost(Duration.ofSeconds(10)).until(() -> node.entanglement().peers().get(0).coalesced() == 999);
    PeerStatus status = node.entanglement().peers().get(0);
    assertThat(status.outboxDepth()).isEqualTo(1);
    assertThat(status.changesSent()).isZero();

    slow.request(100);
    await().atMost(Duration.ofSeconds(10)).until(() -> !slow.changes().isEmpty());
    assertThat(slow.batches()).hasSize(1);
    Change only = slow.changes().get(0);
    assertThat(only.getEphemeral()).isTrue();
    assertThat(only.getSerial()).isEqualTo(1000);
    assertThat(only.getAttributesList()).filteredOn(a -> a.getName().equals("cursor"))
        .extracting(a -> a.getValue().getInteger()).containsExactly(999L);
    assertThat(node.entanglement().peers().get(0).changesSent()).isEqualTo(1);
  }

  @Test
  void aRestartedOwnersStates_replaceOlderOnes_althoughItsSerialsStartAgain() {
    List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    presence().subscribe((id, p, owner) -> seen.add(id + " " + p.status() + " by " + owner)); // added is updated too
    RecordingPeer owner = track(RecordingPeer.handshake(address, "o"));
    assertThat(send(owner, presence("ana", "o", 100, 5, "online").build()).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(send(owner, presence("ana", "o", 100, 4, "older").build()).getStatus())
        .isEqualTo(OutcomeStatus.ALREADY_CURRENT);
    // the owner restarted: a later incarnation, serials from 1 again
    assertThat(send(owner, presence("ana", "o", 200, 1, "back").build()).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(send(owner, presence("ana", "o", 100, 9, "before the restart").build()).getStatus())
        .isEqualTo(OutcomeStatus.ALREADY_CURRENT);
    assertThat(presence().get("ana").map(Presence::status)).contains("back");
    // the owner's removal is a newer state too; a removal of an older one changes nothing
    assertThat(send(owner, presence("ana", "o", 100, 10, "").setOperation(Operation.DELETE).clearAttributes().build())
        .getStatus()).isEqualTo(OutcomeStatus.ALREADY_CURRENT);
    assertThat(presence().get("ana")).isPresent();
    assertThat(send(owner, presence("ana", "o", 200, 2, "").setOperation(Operation.DELETE).clearAttributes().build())
        .getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(presence().get("ana")).isEmpty();
    await().atMost(Duration.ofSeconds(5)).until(() -> seen.size() == 2);
    assertThat(seen).containsExactly("ana online by o", "ana back by o");
  }

  @Test
  void objectsGoWithTheStreamTheyCameOver_alsoWhenANewStreamWithThePeerReplacesIt() {
    presence();
    RecordingPeer first = track(RecordingPeer.handshake(address, "p"));
    assertThat(send(first, presence("old", "p", 1, 1, "online").build()).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(presence().get("old")).isPresent();

    // "p" comes back over a new stream (say it restarted) before the old one was seen to end
    RecordingPeer second = track(RecordingPeer.handshake(address, "p"));
    await().atMost(Duration.ofSeconds(10)).until(() -> !first.isOpen());
    await().atMost(Duration.ofSeconds(10)).until(() -> presence().get("old").isEmpty());
    assertThat(send(second, presence("new", "p", 2, 1, "online").build()).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(presence().all().keySet()).containsExactly("new");
  }

  @Test
  void aPathLostNotice_dropsWhatCameThatWayAndIsPassedOn_butIsAnsweredWithACopyHeldFromElsewhere() {
    presence();
    RecordingPeer owner = track(RecordingPeer.handshake(address, "o"));
    owner.request(100);
    Change fromOwner = presence("x", "o", 1, 3, "online").build();
    assertThat(send(owner, fromOwner).getStatus()).isEqualTo(OutcomeStatus.APPLIED);

    // r connects: it receives x, then says it lost its way to o. The node holds x from o
    // itself, so it keeps x and sends it back to r.
    RecordingPeer relay = track(RecordingPeer.handshake(address, "r"));
    relay.request(100);
    await().atMost(Duration.ofSeconds(10)).until(() -> received(relay, "x").size() == 1);
    assertThat(send(relay, pathLost(fromOwner)).getStatus()).isEqualTo(OutcomeStatus.ALREADY_CURRENT);
    await().atMost(Duration.ofSeconds(10)).until(() -> received(relay, "x").size() == 2);
    assertThat(received(relay, "x").get(1).getOperation()).isEqualTo(Operation.UPSERT);
    assertThat(presence().get("x")).isPresent();

    // y reached the node through r (its owner q is behind r): r losing its way to q takes it
    // away here, and the node tells its other peers (never r itself, never the owner)
    Change y = presence("y", "q", 1, 1, "online").build();
    assertThat(send(relay, y).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    await().atMost(Duration.ofSeconds(10)).until(() -> received(owner, "y").size() == 1);
    assertThat(send(relay, pathLost(y)).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(presence().get("y")).isEmpty();
    await().atMost(Duration.ofSeconds(10)).until(() -> received(owner, "y").size() == 2);
    Change passedOn = received(owner, "y").get(1);
    assertThat(passedOn.getOperation()).isEqualTo(Operation.DELETE);
    assertThat(passedOn.getEphemeralPathLost()).isTrue();
    assertThat(received(relay, "y")).isEmpty();
    assertThat(received(owner, "x")).isEmpty();
  }

  @Test
  void aTypeNotRegisteredHere_isKeptAndRelayedUndecoded_andReadableOnceRegistered() {
    RecordingPeer owner = track(RecordingPeer.handshake(address, "o"));
    RecordingPeer other = track(RecordingPeer.handshake(address, "r"));
    other.request(100);
    Change cursor = Change.newBuilder().setEphemeral(true).setEntity("Cursor").setId(text("c1")).setOwner("o")
        .setEpoch(1).setSerial(1).setOperation(Operation.UPSERT)
        .addAttributes(attribute("user", text("ana"))).addAttributes(attribute("x", integer(3)))
        .addAttributes(attribute("y", integer(4))).build();
    assertThat(send(owner, cursor).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    await().atMost(Duration.ofSeconds(10)).until(() -> received(other, "c1").size() == 1);
    assertThat(received(other, "c1").get(0)).isEqualTo(cursor);

    EphemeralObjects<Cursor> cursors = node.entanglement().ephemeral(Cursor.class);
    assertThat(cursors.get("c1")).contains(new Cursor("ana", 3, 4));
    assertThat(cursors.ownerOf("c1")).contains("o");
  }

  @Test
  void aNewPeerGetsTheCurrentObjects_withTheTimeToLiveTheyHaveLeft() {
    EphemeralObjects<Presence> withTtl = node.entanglement().ephemeral(Presence.class, Duration.ofSeconds(60));
    withTtl.put("ana", new Presence("ana", "online", 1));
    withTtl.put("bob", new Presence("bob", "away", 2));
    withTtl.remove("bob");
    long putAt = System.nanoTime();
    await().until(() -> System.nanoTime() - putAt >= Duration.ofMillis(300).toNanos()); // time passes
    RecordingPeer late = track(RecordingPeer.handshake(address, "late"));
    late.request(100);
    await().atMost(Duration.ofSeconds(10)).until(() -> received(late, "ana").size() == 1);
    Change ana = received(late, "ana").get(0);
    assertThat(ana.getOwner()).isEqualTo("a");
    assertThat(ana.getTtlMs()).isBetween(1L, 59_700L);
    assertThat(received(late, "bob")).as("removed before the peer came").isEmpty();
  }

  @Test
  void registration_andPut_refuseWhatTheyCannotCarry_namingIt() {
    assertThatThrownBy(() -> node.entanglement().ephemeral(Item.class))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ephemeral type " + Item.class.getName() + " has the name 'Item' on the wire, which is the name "
            + "of an @Entangled entity; rename the record");
    record Tags(java.util.Set<String> tags) {}
    assertThatThrownBy(() -> node.entanglement().ephemeral(Tags.class))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("component 'tags' of " + Tags.class.getName() + " has the type java.util.Set, which "
            + "ephemeral objects cannot carry; expected one of String, char");
    assertThatThrownBy(() -> node.entanglement().ephemeral(Presence.class, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("the time to live of ephemeral type " + Presence.class.getName()
            + " is PT0S; expected a positive duration or none");
    assertThatThrownBy(() -> presence().put("", new Presence("x", "y", 0)))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("an ephemeral Presence needs a non-empty id, got ''");
    assertThatThrownBy(() -> presence().put("x", null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ephemeral Presence 'x': expected a " + Presence.class.getName() + ", got null (use remove(id) to remove it)");
    assertThat(presence().all()).isEmpty();
  }
}
