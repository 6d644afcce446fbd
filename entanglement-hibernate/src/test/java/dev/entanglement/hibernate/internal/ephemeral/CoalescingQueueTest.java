package dev.entanglement.hibernate.internal.ephemeral;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

/** The queue's order, bound and completion, on an executor the test runs by hand. */
class CoalescingQueueTest {
  /** Runs submitted tasks only when the test says so. */
  private static final class HeldExecutor implements Executor {
    final Queue<Runnable> tasks = new ArrayDeque<>();

    @Override
    public void execute(Runnable task) {
      tasks.add(task);
    }

    void runAll() {
      Runnable task;
      while ((task = tasks.poll()) != null) {
        task.run();
      }
    }
  }

  private final HeldExecutor pool = new HeldExecutor();
  private final List<String> delivered = new ArrayList<>();
  private final CoalescingQueue<String, String> queue =
      new CoalescingQueue<>("test events", pool, 4, (older, newer) -> older + "+" + newer, delivered::add);

  @Test
  void belowTheBound_everyEventIsDeliveredInOrder() {
    queue.add("a", "a1");
    queue.add("b", "b1");
    queue.add("a", "a2");
    pool.runAll();
    assertThat(delivered).containsExactly("a1", "b1", "a2");
  }

  @Test
  void atTheBound_theBacklogFoldsToOneEventPerKey_inThePlaceOfItsFirst() {
    queue.add("a", "a1");
    queue.add("b", "b1");
    queue.add("a", "a2");
    queue.add("a", "a3"); // the fourth: coalesce
    assertThat(queue.backlog()).isEqualTo(2);
    queue.add("c", "c1");
    pool.runAll();
    assertThat(delivered).containsExactly("a1+a2+a3", "b1", "c1");
  }

  @Test
  void delivered_completesAfterEverythingQueuedBefore_notAfterWhatCameLater() {
    queue.add("a", "a1");
    CompletableFuture<Void> first = queue.delivered();
    queue.add("b", "b1");
    assertThat(first).isNotDone();
    pool.runAll();
    assertThat(first).isDone();
    assertThat(queue.delivered()).as("nothing waiting").isDone();
  }

  @Test
  void aDeliveryThatThrows_doesNotStopTheOthers() {
    CoalescingQueue<String, String> failing = new CoalescingQueue<>("test events", pool, 4, (o, n) -> n, event -> {
      if (event.equals("bad")) {
        throw new IllegalStateException("listener failed");
      }
      delivered.add(event);
    });
    failing.add("a", "bad");
    failing.add("b", "good");
    pool.runAll();
    assertThat(delivered).containsExactly("good");
  }
}
