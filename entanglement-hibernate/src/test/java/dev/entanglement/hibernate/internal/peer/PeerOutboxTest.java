package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.internal.core.Outgoing;
import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class PeerOutboxTest {

  private static Outgoing change(String id, long serial, int priority, boolean coalesce, Operation op) {
    return new Outgoing("Item#" + id, priority, coalesce, Change.newBuilder()
        .setEntity("Item").setOwner("a").setSerial(serial).setOperation(op).build());
  }

  private static Outgoing upsert(String id, long serial) {
    return change(id, serial, 0, true, Operation.UPSERT);
  }

  private static List<Long> serials(List<Change> changes) {
    return changes.stream().map(Change::getSerial).toList();
  }

  @Test
  void offer_sameObject_keepsLatestStateInFirstPosition() {
    PeerOutbox outbox = new PeerOutbox();
    outbox.offer(upsert("x", 1));
    outbox.offer(upsert("y", 2));
    assertThat(outbox.offer(upsert("x", 3))).isTrue();
    assertThat(outbox.size()).isEqualTo(2);
    assertThat(outbox.coalesced()).isEqualTo(1);
    assertThat(serials(outbox.poll(10))).containsExactly(3L, 2L);
    assertThat(outbox.size()).isZero();
  }

  @Test
  void offer_deleteAfterUpsert_sendsTheDelete() {
    PeerOutbox outbox = new PeerOutbox();
    outbox.offer(upsert("x", 1));
    outbox.offer(change("x", 2, 0, true, Operation.DELETE));
    List<Change> sent = outbox.poll(10);
    assertThat(sent).hasSize(1);
    assertThat(sent.get(0).getOperation()).isEqualTo(Operation.DELETE);
  }

  @Test
  void poll_lowerPriorityFirst_thenArrivalOrder() {
    PeerOutbox outbox = new PeerOutbox();
    outbox.offer(change("child", 1, 5, true, Operation.UPSERT));
    outbox.offer(change("parent", 2, -1, true, Operation.UPSERT));
    outbox.offer(change("other", 3, 0, true, Operation.UPSERT));
    outbox.offer(change("parent2", 4, -1, true, Operation.UPSERT));
    assertThat(serials(outbox.poll(10))).containsExactly(2L, 4L, 3L, 1L);
  }

  @Test
  void offer_nonCoalescingType_keepsEveryChangeInOrder() {
    PeerOutbox outbox = new PeerOutbox();
    for (long s = 1; s <= 5; s++) {
      outbox.offer(change("x", s, 0, false, Operation.UPSERT));
    }
    assertThat(outbox.size()).isEqualTo(5);
    assertThat(outbox.coalesced()).isZero();
    assertThat(serials(outbox.poll(3))).containsExactly(1L, 2L, 3L);
    assertThat(serials(outbox.poll(3))).containsExactly(4L, 5L);
  }

  static LongStream seeds() {
    return LongStream.range(0, 200);
  }

  /** Random offers and polls against a ten-line model of "latest state per key, first position". */
  @ParameterizedTest
  @MethodSource("seeds")
  void randomOffersAndPolls_matchModel(long seed) {
    Random random = new Random(seed);
    PeerOutbox outbox = new PeerOutbox();
    Map<String, Long> model = new LinkedHashMap<>();
    List<Long> sentByOutbox = new ArrayList<>();
    List<Long> sentByModel = new ArrayList<>();
    long serial = 0;
    for (int step = 0; step < 200; step++) {
      if (random.nextInt(4) > 0) {
        String key = "k" + random.nextInt(6);
        serial++;
        outbox.offer(upsert(key, serial));
        model.merge(key, serial, (old, now) -> now);
      } else {
        int max = 1 + random.nextInt(3);
        sentByOutbox.addAll(serials(outbox.poll(max)));
        var it = model.entrySet().iterator();
        for (int i = 0; i < max && it.hasNext(); i++) {
          sentByModel.add(it.next().getValue());
          it.remove();
        }
      }
      assertThat(outbox.size()).as("seed %d step %d", seed, step).isEqualTo(model.size());
    }
    assertThat(sentByOutbox).as("seed %d", seed).isEqualTo(sentByModel);
  }

  @Test
  void concurrentOffers_whilePolling_loseNothingAndKeepTheLatest() throws Exception {
    PeerOutbox outbox = new PeerOutbox();
    int producers = 4;
    int perProducer = 20_000;
    ExecutorService pool = Executors.newFixedThreadPool(producers);
    CountDownLatch start = new CountDownLatch(1);
    for (int p = 0; p < producers; p++) {
      int producer = p;
      pool.execute(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        for (int i = 1; i <= perProducer; i++) {
          // each producer owns 10 keys; serials grow per producer
          outbox.offer(upsert("p" + producer + "-" + (i % 10), producer * 1_000_000L + i));
        }
      });
    }
    Map<String, Long> lastSeen = new LinkedHashMap<>();
    start.countDown();
    pool.shutdown();
    while (!pool.isTerminated() || outbox.size() > 0) {
      for (Change c : outbox.poll(64)) {
        lastSeen.merge(String.valueOf(c.getSerial() / 1_000_000) + "-" + (c.getSerial() % 1_000_000 % 10),
            c.getSerial(), Math::max);
      }
    }
    assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    assertThat(lastSeen).hasSize(producers * 10);
    for (int p = 0; p < producers; p++) {
      for (int k = 0; k < 10; k++) {
        long expectedLast = p * 1_000_000L + perProducer - ((perProducer - k) % 10 + 10) % 10;
        assertThat(lastSeen.get(p + "-" + k)).as("producer %d key %d", p, k).isEqualTo(expectedLast);
      }
    }
  }
}
