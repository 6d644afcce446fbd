package dev.entanglement.hibernate.internal.ephemeral;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.entanglement.hibernate.testing.ManualTicker;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The table's rules, with time moved by hand and effects recorded as text. */
class EphemeralTableTest {
  private static final String NODE = "me";
  private static final String TYPE = "Presence";

  /** Stream tokens: distinct objects, compared by identity as connections are. */
  private static final Object FROM_A = new Object();
  private static final Object FROM_B = new Object();

  private final ManualTicker ticker = new ManualTicker();
  private final List<String> events = new ArrayList<>();
  private final List<Change> changes = new ArrayList<>();
  private EphemeralTable<Object> table = table(UndecodedBound.DEFAULT_PER_OWNER, UndecodedBound.DEFAULT_TOTAL);

  private EphemeralTable<Object> table(int undecodedPerOwner, int undecodedTotal) {
    return new EphemeralTable<>(NODE, 1000, ticker, new UndecodedBound(NODE, undecodedPerOwner, undecodedTotal), new EphemeralTable.Events<>() {
      @Override
      public void send(String exceptPeer, Change change) {
        changes.add(change);
        events.add("send " + describe(change) + (exceptPeer == null ? "" : " not to " + exceptPeer));
      }

      @Override
      public void offer(Object to, Change change) {
        changes.add(change);
        events.add("offer " + describe(change) + " to " + (to == FROM_A ? "a" : to == FROM_B ? "b" : to));
      }

      @Override
      public void added(String type, String id, Object value, String owner) {
        events.add("added " + id + "=" + value);
      }

      @Override
      public void updated(String type, String id, Object value, String owner) {
        events.add("updated " + id + "=" + value);
      }

      @Override
      public void removed(String type, String id, String owner, RemovalCause cause) {
        events.add("removed " + id + " " + cause);
      }
    });
  }

  private static String describe(Change change) {
    return change.getOperation() + (change.getEphemeralPathLost() ? " path-lost " : " ") + change.getId().getText()
        + "@" + change.getSerial();
  }

  private static Change state(String id, String owner, long incarnation, long serial, long ttlMillis) {
    return EphemeralChanges.upsert(TYPE, id, owner, incarnation, serial, List.of(), ttlMillis);
  }

  private static Change removal(String id, String owner, long incarnation, long serial, boolean pathLost) {
    return EphemeralChanges.removal(TYPE, id, owner, incarnation, serial, pathLost);
  }

  private Outcome receive(String peer, Object from, Change change, Object value) {
    return table.receive(peer, from, change, value);
  }

  // ---- time to live ---------------------------------------------------------------------------

  @Test
  void anOwnObject_expiresAtItsTimeToLive_withoutSendingAnything() {
    table.put(TYPE, "ana", "online", List.of(), 1000);
    events.clear();
    ticker.advance(Duration.ofMillis(999));
    assertThat(table.expire()).isZero();
    assertThat(table.value(TYPE, "ana")).isEqualTo("online");
    ticker.advance(Duration.ofMillis(1));
    assertThat(table.expire()).isEqualTo(1);
    assertThat(table.value(TYPE, "ana")).isNull();
    assertThat(events).containsExactly("removed ana EXPIRED");
  }

  @Test
  void puttingAgain_refreshesTheTimeToLive() {
    table.put(TYPE, "ana", "online", List.of(), 1000);
    ticker.advance(Duration.ofMillis(800));
    table.put(TYPE, "ana", "online", List.of(), 1000);
    ticker.advance(Duration.ofMillis(800));
    table.expire();
    assertThat(table.value(TYPE, "ana")).as("refreshed at 800 ms").isEqualTo("online");
    ticker.advance(Duration.ofMillis(200));
    table.expire();
    assertThat(table.value(TYPE, "ana")).isNull();
  }

  @Test
  void aReceivedObject_expiresByTheOwnersTimeToLive_andANewerStateRefreshesIt() {
    assertThat(receive("a", FROM_A, state("bob", "a", 5, 1, 500), "x").getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    ticker.advance(Duration.ofMillis(400));
    receive("a", FROM_A, state("bob", "a", 5, 2, 500), "y");
    ticker.advance(Duration.ofMillis(400));
    table.expire();
    assertThat(table.value(TYPE, "bob")).isEqualTo("y");
    // a state without a time to live never expires
    receive("a", FROM_A, state("bob", "a", 5, 3, 0), "z");
    ticker.advance(Duration.ofDays(1));
    assertThat(table.expire()).isZero();
    assertThat(table.value(TYPE, "bob")).isEqualTo("z");
  }

  @Test
  void aConnectingPeer_getsTheTimeToLiveLeft() {
    table.put(TYPE, "ana", "online", List.of(), 1000);
    ticker.advance(Duration.ofMillis(400));
    changes.clear();
    table.catchUp("b", FROM_B);
    assertThat(changes).singleElement().extracting(Change::getTtlMs).isEqualTo(600L);
  }

  // ---- removal causes -------------------------------------------------------------------------

  @Test
  void theOwnerRemovingItsObject_sendsARemoval() {
    table.put(TYPE, "ana", "online", List.of(), 0);
    assertThat(table.remove(TYPE, "ana")).isTrue();
    assertThat(table.remove(TYPE, "ana")).isFalse();
    assertThat(events).containsExactly("send UPSERT ana@1", "added ana=online", "send DELETE ana@2",
        "removed ana REMOVED");
  }

  @Test
  void aReceivedRemoval_isRelayedAndTold() {
    receive("a", FROM_A, state("bob", "a", 5, 1, 0), "x");
    events.clear();
    assertThat(receive("b", FROM_B, removal("bob", "a", 5, 2, false), null)).isEqualTo(EphemeralChanges.APPLIED);
    assertThat(events).containsExactly("send DELETE bob@2 not to b", "removed bob REMOVED");
  }

  @Test
  void aSourceThatEnds_takesItsObjects_andThePeersGetPathLostNotices() {
    receive("a", FROM_A, state("bob", "a", 5, 1, 1000), "x");
    receive("b", FROM_B, state("cid", "b", 7, 1, 0), "y");
    events.clear();
    assertThat(table.sourceEnded("a", FROM_A)).isEqualTo(1);
    assertThat(events).containsExactly("send DELETE path-lost bob@1 not to a", "removed bob SOURCE_ENDED");
    assertThat(table.value(TYPE, "cid")).isEqualTo("y");
    ticker.advance(Duration.ofSeconds(2));
    assertThat(table.expire()).as("its deadline went with it").isZero();
  }

  @Test
  void aPathLostNotice_fromTheSource_dropsTheObject_fromElsewhere_isAnsweredWithACopy() {
    receive("a", FROM_A, state("bob", "o", 5, 1, 0), "x");
    events.clear();
    assertThat(receive("b", FROM_B, removal("bob", "o", 5, 1, true), null)).isEqualTo(EphemeralChanges.ALREADY_CURRENT);
    assertThat(events).containsExactly("offer UPSERT bob@1 to b");
    events.clear();
    assertThat(receive("a", FROM_A, removal("bob", "o", 5, 1, true), null)).isEqualTo(EphemeralChanges.APPLIED);
    assertThat(events).containsExactly("send DELETE path-lost bob@1 not to a", "removed bob PATH_LOST");
  }

  @Test
  void anOwnerRemovedByAnOperator_losesItsObjectsHere_silently() {
    receive("a", FROM_A, state("bob", "a", 5, 1, 0), "x");
    receive("a", FROM_A, state("cid", "c", 5, 1, 0), "y");
    events.clear();
    table.ownerRemoved("a");
    assertThat(events).containsExactly("removed bob OWNER_REMOVED");
    assertThat(table.size()).isEqualTo(1);
  }

  // ---- order and ownership --------------------------------------------------------------------

  @Test
  void statesAreOrderedByIncarnationThenSerial() {
    receive("a", FROM_A, state("bob", "a", 5, 3, 0), "three");
    assertThat(receive("a", FROM_A, state("bob", "a", 5, 2, 0), "two")).isEqualTo(EphemeralChanges.ALREADY_CURRENT);
    assertThat(receive("a", FROM_A, state("bob", "a", 6, 1, 0), "restarted").getStatus())
        .isEqualTo(OutcomeStatus.APPLIED);
    assertThat(table.value(TYPE, "bob")).isEqualTo("restarted");
    assertThat(events).containsExactly("send UPSERT bob@3 not to a", "added bob=three", "send UPSERT bob@1 not to a",
        "updated bob=restarted");
  }

  @Test
  void onlyTheOwnerChangesAnObject() {
    receive("a", FROM_A, state("bob", "a", 5, 1, 0), "x");
    Outcome other = receive("b", FROM_B, state("bob", "b", 9, 9, 0), "y");
    assertThat(other.getReason()).isEqualTo(RejectReason.NOT_OWNER);
    assertThatThrownBy(() -> table.put(TYPE, "bob", "mine", List.of(), 0))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("owned by node 'a'");
    assertThatThrownBy(() -> table.remove(TYPE, "bob")).isInstanceOf(IllegalStateException.class);
    assertThat(table.invalid(state("x", NODE, 1, 1, 0)).getReason()).isEqualTo(RejectReason.NOT_OWNER);
  }

  @Test
  void theSameStateFromTheOwner_makesTheOwnerTheSource() {
    receive("b", FROM_B, state("bob", "a", 5, 1, 0), "x");
    receive("a", FROM_A, state("bob", "a", 5, 1, 0), "x");
    table.sourceEnded("b", FROM_B);
    assertThat(table.value(TYPE, "bob")).as("b is no longer its source").isEqualTo("x");
    table.sourceEnded("a", FROM_A);
    assertThat(table.value(TYPE, "bob")).isNull();
  }

  // ---- undecoded objects ----------------------------------------------------------------------

  @Test
  void undecodedObjectsOfOneOwner_areBounded_andTheRefusalSaysWhy() {
    table = table(2, 100);
    assertThat(receive("a", FROM_A, state("1", "a", 5, 1, 0), null)).isEqualTo(EphemeralChanges.APPLIED);
    assertThat(receive("a", FROM_A, state("2", "a", 5, 2, 0), null)).isEqualTo(EphemeralChanges.APPLIED);
    events.clear();
    Outcome third = receive("a", FROM_A, state("3", "a", 5, 3, 0), null);
    assertThat(third.getStatus()).isEqualTo(OutcomeStatus.REJECTED);
    assertThat(third.getReason()).isEqualTo(RejectReason.POLICY);
    assertThat(third.getMessage()).contains("2 ephemeral objects of owner 'a'", "Presence is refused",
        "register the type at 'me'");
    assertThat(events).as("not relayed").isEmpty();
    assertThat(table.undecoded("a")).isEqualTo(2);
    // a newer state of one held, another owner's, and room made by a removal are all taken
    assertThat(receive("a", FROM_A, state("2", "a", 5, 4, 0), null)).isEqualTo(EphemeralChanges.APPLIED);
    assertThat(receive("b", FROM_B, state("9", "b", 5, 1, 0), null)).isEqualTo(EphemeralChanges.APPLIED);
    receive("a", FROM_A, removal("1", "a", 5, 5, false), null);
    assertThat(receive("a", FROM_A, state("3", "a", 5, 6, 0), null)).isEqualTo(EphemeralChanges.APPLIED);
    assertThat(table.undecoded("a")).isEqualTo(2);
    assertThat(table.undecoded()).isEqualTo(3);
  }

  @Test
  void undecodedObjectsOfAllOwners_areBoundedToo() {
    table = table(10, 2);
    receive("a", FROM_A, state("1", "a", 5, 1, 0), null);
    receive("b", FROM_B, state("2", "b", 5, 1, 0), null);
    Outcome third = receive("a", FROM_A, state("3", "c", 5, 1, 0), null);
    assertThat(third.getReason()).isEqualTo(RejectReason.POLICY);
    assertThat(third.getMessage()).contains("holds 2 ephemeral objects whose types it has not registered");
  }

  @Test
  void registeringTheType_decodesWhatIsHeld_andFreesTheBound() {
    table = table(1, 1);
    receive("a", FROM_A, state("1", "a", 5, 1, 0), null);
    assertThat(table.values(TYPE)).isEmpty();
    table.decodeHeld(TYPE, change -> "decoded " + change.getId().getText());
    assertThat(table.values(TYPE)).containsEntry("1", "decoded 1");
    assertThat(table.undecoded()).isZero();
    assertThat(receive("a", FROM_A, state("2", "a", 5, 2, 0), null)).isEqualTo(EphemeralChanges.APPLIED);
  }

  @Test
  void expiryAndEndedSources_freeTheBound() {
    table = table(1, 1);
    receive("a", FROM_A, state("1", "a", 5, 1, 100), null);
    ticker.advance(Duration.ofMillis(100));
    table.expire();
    assertThat(receive("a", FROM_A, state("2", "a", 5, 2, 0), null)).isEqualTo(EphemeralChanges.APPLIED);
    table.sourceEnded("a", FROM_A);
    assertThat(table.undecoded("a")).isZero();
  }
}
