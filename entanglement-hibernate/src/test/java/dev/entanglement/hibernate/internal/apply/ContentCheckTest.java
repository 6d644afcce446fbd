package dev.entanglement.hibernate.internal.apply;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Which received states a verifying synchronization may compare and rewrite: only exactly the
 * state the bookkeeping row records. Anything else is left to {@link StateOrdering} (a newer
 * change applies as usual; an older one, or one of another epoch or owner, never rewrites).
 */
class ContentCheckTest {

  private static ObjectRow row(String owner, long serial, long epoch, boolean deleted) {
    return new ObjectRow("Item", "1", owner, serial, deleted, epoch, null);
  }

  private static Change change(String owner, long serial, long epoch, Operation operation) {
    return Change.newBuilder().setEntity("Item").setOwner(owner).setSerial(serial).setEpoch(epoch)
        .setOperation(operation).build();
  }

  static Stream<Arguments> rows() {
    return Stream.of(
        Arguments.of("the same live state", row("p", 5, 0, false), change("p", 5, 0, Operation.UPSERT), true),
        Arguments.of("the same deletion", row("p", 5, 0, true), change("p", 5, 0, Operation.DELETE), true),
        Arguments.of("an older state (a newer one arrived meanwhile)", row("p", 7, 0, false),
            change("p", 5, 0, Operation.UPSERT), false),
        Arguments.of("a newer state (applied as usual, not compared)", row("p", 5, 0, false),
            change("p", 6, 0, Operation.UPSERT), false),
        Arguments.of("the same serial of an older epoch", row("q", 5, 1, false), change("p", 5, 0, Operation.UPSERT), false),
        Arguments.of("the same serial of another owner", row("q", 5, 0, false), change("p", 5, 0, Operation.UPSERT), false),
        Arguments.of("an upsert of a swept tombstone's serial (restored by the ordering)", row("p", 5, 0, true),
            change("p", 5, 0, Operation.UPSERT), false),
        Arguments.of("never seen", null, change("p", 5, 0, Operation.UPSERT), false));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rows")
  void comparesOnlyTheStateTheBookkeepingRecords(String what, ObjectRow known, Change change, boolean compared) {
    assertThat(ContentCheck.sameState(known, change)).as(what).isEqualTo(compared);
  }
}
