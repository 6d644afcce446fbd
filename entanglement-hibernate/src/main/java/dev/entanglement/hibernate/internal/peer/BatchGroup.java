package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OwnerPosition;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Consecutive received batches applied as one: their changes in arrival order, and for each
 * owner the highest position any of them carries (positions only rise along a stream), in one
 * transaction, so that a receiver behind its peer pays one commit (one fsync on PostgreSQL) for
 * what queued up rather than one per message. The answer is split back into one {@link Ack} per
 * batch, each with its own request id and its outcomes indexed within it, as if each had been
 * applied alone.
 *
 * <p>Immutable.
 */
final class BatchGroup {
  /** Most changes one group holds; a longer run of queued batches makes several groups. */
  static final int MAX_CHANGES = 1_024;

  private final List<ChangeBatch> batches;

  BatchGroup(List<ChangeBatch> batches) {
    if (batches.isEmpty()) {
      throw new IllegalArgumentException("an empty group");
    }
    this.batches = List.copyOf(batches);
  }

  /** Whether a batch may join a group of these: rechecks (answered, not counted) only go with rechecks. */
  static boolean joins(ChangeBatch first, ChangeBatch next, int changesSoFar) {
    return first.getRecheck() == next.getRecheck() && changesSoFar + next.getChangesCount() <= MAX_CHANGES;
  }

  List<ChangeBatch> batches() {
    return batches;
  }

  /** The group as one batch (the first one itself when it is alone). */
  ChangeBatch merged() {
    if (batches.size() == 1) {
      return batches.get(0);
    }
    ChangeBatch.Builder merged = ChangeBatch.newBuilder().setRequestId(batches.get(batches.size() - 1).getRequestId())
        .setRecheck(batches.get(0).getRecheck());
    Map<String, OwnerPosition> highest = new LinkedHashMap<>();
    for (ChangeBatch batch : batches) {
      merged.addAllChanges(batch.getChangesList());
      for (OwnerPosition position : batch.getPositionsList()) {
        highest.merge(position.getOwner(), position,
            (before, now) -> Long.compareUnsigned(now.getSerial(), before.getSerial()) >= 0 ? now : before);
      }
    }
    return merged.addAllPositions(highest.values()).build();
  }

  /** The merged batch's answer as one answer per batch, in the batches' order. */
  List<Ack> split(Ack merged) {
    if (batches.size() == 1) {
      return List.of(merged);
    }
    List<Ack.Builder> acks = new ArrayList<>();
    int[] firstIndex = new int[batches.size()];
    int offset = 0;
    for (int k = 0; k < batches.size(); k++) {
      firstIndex[k] = offset;
      offset += batches.get(k).getChangesCount();
      acks.add(Ack.newBuilder().setRequestId(batches.get(k).getRequestId()));
    }
    for (Outcome outcome : merged.getOutcomesList()) {
      int k = batchOf(firstIndex, outcome.getIndex());
      acks.get(k).addOutcomes(outcome.toBuilder().setIndex(outcome.getIndex() - firstIndex[k]));
    }
    return acks.stream().map(Ack.Builder::build).toList();
  }

  private static int batchOf(int[] firstIndex, int index) {
    int k = firstIndex.length - 1;
    while (k > 0 && firstIndex[k] > index) {
      k--;
    }
    return k;
  }
}
