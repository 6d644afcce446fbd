package dev.entanglement.hibernate.internal.apply;

import static dev.entanglement.hibernate.internal.apply.StateOrdering.Verdict.ALREADY_CURRENT;
import static dev.entanglement.hibernate.internal.apply.StateOrdering.Verdict.APPLY;
import static dev.entanglement.hibernate.internal.apply.StateOrdering.Verdict.REJECT;
import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.internal.apply.StateOrdering.Decision;
import dev.entanglement.hibernate.internal.apply.StateOrdering.Verdict;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.RejectReason;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every rule of {@link StateOrdering}, one row each: this node is {@code me}; {@code p}, {@code q}
 * and {@code r} are other nodes. Rows are written {@code owner/serial/epoch}, with a tombstone
 * marked {@code deleted} and a pending hand-over {@code ->target}.
 */
class StateOrderingTest {
  private static final String SELF = "me";
  private static final String KEY = "Item#1";

  private static ObjectRow live(String owner, long serial, long epoch) {
    return new ObjectRow("Item", "1", owner, serial, false, epoch, null);
  }

  private static ObjectRow tombstone(String owner, long serial, long epoch) {
    return new ObjectRow("Item", "1", owner, serial, true, epoch, null);
  }

  private static ObjectRow handingOver(String owner, long serial, long epoch, String to) {
    return new ObjectRow("Item", "1", owner, serial, false, epoch, to);
  }

  private static Change upsert(String owner, long serial, long epoch) {
    return Change.newBuilder().setEntity("Item").setOwner(owner).setSerial(serial).setEpoch(epoch)
        .setOperation(Operation.UPSERT).build();
  }

  private static Change delete(String owner, long serial, long epoch) {
    return upsert(owner, serial, epoch).toBuilder().setOperation(Operation.DELETE).build();
  }

  private static Change withdraw(String owner, long serial, long epoch) {
    return upsert(owner, serial, epoch).toBuilder().setOperation(Operation.WITHDRAW).build();
  }

  private static Arguments row(String rule, ObjectRow known, Change change, Verdict verdict) {
    return Arguments.of(rule, known, change, verdict);
  }

  static Stream<Arguments> rules() {
    return Stream.of(
        // withdrawals: ordered as deletions; nothing to do for an object not held
        row("withdrawal of an object never held is already current (nothing recorded)", null, withdraw("p", 3, 0),
            ALREADY_CURRENT),
        row("withdrawal with a higher serial applies", live("p", 5, 0), withdraw("p", 6, 0), APPLY),
        row("withdrawal with an equal serial is already current (held over a path that may send it)",
            live("p", 6, 0), withdraw("p", 6, 0), ALREADY_CURRENT),
        row("withdrawal with a lower serial is already current", live("p", 7, 0), withdraw("p", 6, 0),
            ALREADY_CURRENT),
        row("withdrawal of a tombstone is already current", tombstone("p", 5, 0), withdraw("p", 6, 0),
            ALREADY_CURRENT),
        row("withdrawal of a higher epoch on a tombstone is already current", tombstone("p", 5, 0),
            withdraw("p", 1, 1), ALREADY_CURRENT),
        row("withdrawal of a lower epoch is already current", live("p", 5, 2), withdraw("p", 99, 1),
            ALREADY_CURRENT),
        row("withdrawal of this node's own object is rejected", live(SELF, 5, 0), withdraw("q", 6, 0), REJECT),
        row("withdrawn, the same state sent again restores it (re-granted)", tombstone("p", 6, 0), upsert("p", 6, 0),
            APPLY),
        // an object never seen
        row("unknown object: an upsert applies", null, upsert("p", 1, 0), APPLY),
        row("unknown object: a delete applies (a tombstone)", null, delete("p", 1, 0), APPLY),
        // serial order, same owner and epoch
        row("higher serial applies", live("p", 5, 0), upsert("p", 6, 0), APPLY),
        row("equal serial is already current", live("p", 5, 0), upsert("p", 5, 0), ALREADY_CURRENT),
        row("lower serial is already current", live("p", 5, 0), upsert("p", 4, 0), ALREADY_CURRENT),
        row("delete with a higher serial applies", live("p", 5, 0), delete("p", 6, 0), APPLY),
        row("delete with an equal serial is already current", live("p", 5, 0), delete("p", 5, 0), ALREADY_CURRENT),
        row("delete with a lower serial is already current", live("p", 5, 0), delete("p", 4, 0), ALREADY_CURRENT),
        // tombstones of the same owner
        row("tombstone: the same serial sent again restores (swept, re-granted)", tombstone("p", 5, 0),
            upsert("p", 5, 0), APPLY),
        row("tombstone: the same delete again is already current", tombstone("p", 5, 0), delete("p", 5, 0),
            ALREADY_CURRENT),
        row("tombstone: an older upsert is already current", tombstone("p", 5, 0), upsert("p", 4, 0),
            ALREADY_CURRENT),
        row("tombstone: a newer upsert applies", tombstone("p", 5, 0), upsert("p", 6, 0), APPLY),
        // epoch order
        row("lower epoch is already current, whatever its serial", live("p", 5, 2), upsert("p", 99, 1),
            ALREADY_CURRENT),
        row("lower epoch of another owner is already current", live("p", 5, 2), upsert("q", 99, 1),
            ALREADY_CURRENT),
        row("lower epoch on this node's own object is already current", live(SELF, 5, 2), upsert("q", 99, 1),
            ALREADY_CURRENT),
        row("higher epoch applies, even with a lower serial", live("p", 50, 1), upsert("p", 3, 2), APPLY),
        row("higher epoch of a new owner takes over another node's object", live("p", 50, 1),
            upsert("q", 3, 2), APPLY),
        row("higher epoch over a tombstone applies", tombstone("p", 50, 1), upsert("q", 3, 2), APPLY),
        // hand-over of this node's own objects
        row("own object handed over to the sender: its higher epoch applies", handingOver(SELF, 5, 1, "q"),
            upsert("q", 1, 2), APPLY),
        row("own object not handed over: a higher epoch is rejected", live(SELF, 5, 1), upsert("q", 1, 2),
            REJECT),
        row("own object handed over to someone else: rejected", handingOver(SELF, 5, 1, "r"),
            upsert("q", 1, 2), REJECT),
        row("own tombstone not handed over: a higher epoch is rejected", tombstone(SELF, 5, 1),
            upsert("q", 1, 2), REJECT),
        // this node's own objects at the same epoch
        row("own object: another owner at the same epoch is rejected", live(SELF, 5, 0), upsert("q", 9, 0),
            REJECT),
        row("own object handed over: the same epoch still cannot overwrite it", handingOver(SELF, 5, 0, "q"),
            upsert("q", 9, 0), REJECT),
        row("own tombstone: another owner at the same epoch is rejected", tombstone(SELF, 5, 0),
            upsert("q", 9, 0), REJECT),
        row("own object: a delete from another owner is rejected", live(SELF, 5, 0), delete("q", 9, 0), REJECT),
        // owner changes at the same epoch
        row("another owner's live object cannot be taken over at the same epoch", live("p", 5, 0),
            upsert("q", 9, 0), REJECT),
        row("another owner's live object cannot be deleted by a third node", live("p", 5, 0), delete("q", 9, 0),
            REJECT),
        row("a pending hand-over does not let its target write at the same epoch", handingOver("p", 5, 0, "q"),
            upsert("q", 9, 0), REJECT),
        row("the owner keeps writing during its pending hand-over", handingOver("p", 5, 0, "q"),
            upsert("p", 6, 0), APPLY),
        row("another owner may take over a tombstone at the same epoch", tombstone("p", 5, 0),
            upsert("q", 1, 0), APPLY),
        row("another owner's delete of a tombstone applies", tombstone("p", 5, 0), delete("q", 1, 0), APPLY));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rules")
  void rule(String rule, ObjectRow known, Change change, Verdict expected) {
    Decision decision = StateOrdering.decide(SELF, KEY, known, change);
    assertThat(decision.verdict()).as(rule).isEqualTo(expected);
    if (expected == REJECT) {
      assertThat(decision.reason()).isEqualTo(RejectReason.NOT_OWNER);
      assertThat(decision.message()).startsWith(KEY + " is owned by ");
    } else {
      assertThat(decision.reason()).isNull();
    }
    assertThat(decision.message() == null).isEqualTo(expected == APPLY);
  }

  @Test
  void rejectionMessages_nameTheObjectTheOwnersAndTheEpochs() {
    assertThat(StateOrdering.decide(SELF, KEY, live(SELF, 5, 1), upsert("q", 1, 2)).message())
        .isEqualTo("Item#1 is owned by this node ('me') and was not handed over to 'q'; its epoch 2 cannot "
            + "replace epoch 1");
    assertThat(StateOrdering.decide(SELF, KEY, live(SELF, 5, 0), upsert("q", 9, 0)).message())
        .isEqualTo("Item#1 is owned by this node ('me'); a change claiming owner 'q' cannot overwrite it");
    assertThat(StateOrdering.decide(SELF, KEY, live("p", 5, 3), upsert("q", 9, 3)).message())
        .isEqualTo("Item#1 is owned by 'p'; a change from 'q' cannot take it over (a hand-over raises the "
            + "ownership epoch, this change keeps epoch 3)");
  }

  @Test
  void alreadyCurrent_saysWhyForTheLog() {
    assertThat(StateOrdering.decide(SELF, KEY, live("p", 5, 2), upsert("p", 9, 1)).message())
        .isEqualTo("Node 'me' has Item#1 at ownership epoch 2 (received 1 from 'p')");
    assertThat(StateOrdering.decide(SELF, KEY, live("p", 5, 0), upsert("p", 4, 0)).message())
        .isEqualTo("Node 'me' already has Item#1 at serial 5 (received 4)");
  }

  @Test
  void rowAfter_recordsOwnerSerialEpochAndPendingHandOver() {
    Change handOver = upsert("p", 7, 3).toBuilder().setHandoverTo("q").build();
    assertThat(StateOrdering.rowAfter("Item", "1", handOver))
        .isEqualTo(new ObjectRow("Item", "1", "p", 7, false, 3, "q"));
    assertThat(StateOrdering.rowAfter("Item", "1", upsert("p", 7, 3)))
        .isEqualTo(new ObjectRow("Item", "1", "p", 7, false, 3, null));
    Change deleteDuringHandOver = delete("p", 8, 3).toBuilder().setHandoverTo("q").build();
    assertThat(StateOrdering.rowAfter("Item", "1", deleteDuringHandOver))
        .as("a tombstone is never being handed over")
        .isEqualTo(new ObjectRow("Item", "1", "p", 8, true, 3, null));
    assertThat(StateOrdering.rowAfter("Item", "1", withdraw("p", 9, 3)))
        .as("a withdrawal leaves a tombstone at its serial, which the same state sent again restores")
        .isEqualTo(new ObjectRow("Item", "1", "p", 9, true, 3, null));
  }
}
