package dev.entanglement.hibernate.internal.peer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.OwnerRemoved;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.Value;
import org.junit.jupiter.api.Test;

class UrgentQueueTest {
  private static Envelope transition(String id, int sequence) {
    return Envelope.newBuilder().setTransition(TransitionUpdate.newBuilder().setOrigin("a").setTransitionId(1)
        .setSequence(sequence).setEntity("Item").setId(Value.newBuilder().setText(id)).setOwner("a")).build();
  }

  private static Envelope ack(long id) {
    return Envelope.newBuilder().setAck(Ack.newBuilder().setRequestId(id)).build();
  }

  private static Envelope outcome(long id) {
    return Envelope.newBuilder().setRequestOutcome(RequestOutcome.newBuilder().setRequestId(id)).build();
  }

  @Test
  void laterTransitionOfAnObject_replacesTheUnsentOneInItsPlace() {
    UrgentQueue queue = new UrgentQueue();
    assertThat(queue.offer(transition("x", 1))).isEqualTo(UrgentQueue.Offered.QUEUED);
    assertThat(queue.offer(ack(1))).isEqualTo(UrgentQueue.Offered.QUEUED);
    assertThat(queue.offer(transition("y", 1))).isEqualTo(UrgentQueue.Offered.QUEUED);
    assertThat(queue.offer(transition("x", 2))).isEqualTo(UrgentQueue.Offered.COALESCED);

    assertThat(queue.size()).isEqualTo(3);
    assertThat(queue.poll()).isEqualTo(transition("x", 2));
    assertThat(queue.poll()).isEqualTo(ack(1));
    assertThat(queue.poll()).isEqualTo(transition("y", 1));
    assertThat(queue.poll()).isNull();
    // once sent, a later update is queued again
    assertThat(queue.offer(transition("x", 3))).isEqualTo(UrgentQueue.Offered.QUEUED);
  }

  @Test
  void ownerRemovals_coalescePerOwner() {
    UrgentQueue queue = new UrgentQueue();
    Envelope removed = Envelope.newBuilder().setOwnerRemoved(OwnerRemoved.newBuilder().setOwner("c")).build();
    queue.offer(removed);
    assertThat(queue.offer(removed)).isEqualTo(UrgentQueue.Offered.COALESCED);
    assertThat(queue.size()).isEqualTo(1);
  }

  @Test
  void outcomesPastTheirCap_overflow_otherKindsStillFit() {
    UrgentQueue queue = new UrgentQueue();
    for (int i = 0; i < UrgentQueue.MAX_OUTCOMES; i++) {
      assertThat(queue.offer(outcome(i))).isEqualTo(UrgentQueue.Offered.QUEUED);
    }
    assertThat(queue.offer(outcome(-1))).isEqualTo(UrgentQueue.Offered.OVERFLOW);
    assertThat(queue.offer(ack(1))).isEqualTo(UrgentQueue.Offered.QUEUED);
    queue.poll();
    assertThat(queue.offer(outcome(-1))).isEqualTo(UrgentQueue.Offered.QUEUED);
  }

  @Test
  void everythingTogether_isBounded() {
    UrgentQueue queue = new UrgentQueue();
    for (int i = 0; i < UrgentQueue.MAX_TOTAL; i++) {
      queue.offer(ack(i));
    }
    assertThat(queue.offer(ack(-1))).isEqualTo(UrgentQueue.Offered.OVERFLOW);
    assertThat(queue.offer(transition("new", 1))).isEqualTo(UrgentQueue.Offered.OVERFLOW);
    assertThat(queue.size()).isEqualTo(UrgentQueue.MAX_TOTAL);
  }
}
