package dev.entanglement.hibernate.internal.peer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.OwnerPosition;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchGroupTest {
  private static ChangeBatch batch(long requestId, int changes, long position) {
    ChangeBatch.Builder batch = ChangeBatch.newBuilder().setRequestId(requestId);
    for (int i = 0; i < changes; i++) {
      batch.addChanges(Change.newBuilder().setEntity("Item").setOwner("a").setSerial(requestId * 10 + i));
    }
    if (position > 0) {
      batch.addPositions(OwnerPosition.newBuilder().setOwner("a").setSerial(position));
    }
    return batch.build();
  }

  @Test
  void theGroupCarriesEveryChangeInOrder_andEachOwnersHighestPosition() {
    BatchGroup group = new BatchGroup(List.of(batch(1, 2, 12), batch(2, 0, 15), batch(3, 1, 30)));
    ChangeBatch merged = group.merged();
    assertThat(merged.getChangesList()).extracting(Change::getSerial).containsExactly(10L, 11L, 30L);
    assertThat(merged.getPositionsList()).containsExactly(OwnerPosition.newBuilder().setOwner("a").setSerial(30).build());
  }

  @Test
  void theAnswerIsSplitIntoOneAckPerBatch_indexedWithinIt_emptyBatchesIncluded() {
    BatchGroup group = new BatchGroup(List.of(batch(1, 2, 12), batch(2, 0, 15), batch(3, 1, 30)));
    Ack.Builder merged = Ack.newBuilder().setRequestId(3);
    for (int i = 0; i < 3; i++) {
      merged.addOutcomes(Outcome.newBuilder().setIndex(i)
          .setStatus(i == 1 ? OutcomeStatus.REJECTED : OutcomeStatus.APPLIED));
    }
    List<Ack> acks = group.split(merged.build());
    assertThat(acks).extracting(Ack::getRequestId).containsExactly(1L, 2L, 3L);
    assertThat(acks.get(0).getOutcomesList()).extracting(Outcome::getIndex, Outcome::getStatus)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(0, OutcomeStatus.APPLIED),
            org.assertj.core.groups.Tuple.tuple(1, OutcomeStatus.REJECTED));
    assertThat(acks.get(1).getOutcomesList()).isEmpty();
    assertThat(acks.get(2).getOutcomesList()).extracting(Outcome::getIndex).containsExactly(0);
  }

  @Test
  void rechecksGoOnlyWithRechecks_andAGroupStopsAtItsSize() {
    ChangeBatch recheck = batch(2, 1, 0).toBuilder().setRecheck(true).build();
    assertThat(BatchGroup.joins(batch(1, 1, 0), recheck, 1)).isFalse();
    assertThat(BatchGroup.joins(batch(1, 1, 0), batch(2, 1, 0), BatchGroup.MAX_CHANGES)).isFalse();
    assertThat(BatchGroup.joins(batch(1, 1, 0), batch(2, 1, 0), BatchGroup.MAX_CHANGES - 1)).isTrue();
  }
}
