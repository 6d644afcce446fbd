package dev.entanglement.hibernate.internal.ephemeral;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BinaryOperator;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Delivers queued events one at a time, in order, on threads of a shared executor, and keeps the
 * backlog bounded by folding it to one event per key when it grows past its bound.
 *
 * <p><b>Bound and policy when full:</b> every event is delivered as queued while fewer than
 * {@code bound} wait. When {@code bound} wait, the backlog is <em>coalesced</em>: the events of
 * each key are merged into one (with the {@code merge} function, older first), which takes the
 * place of the key's earliest event (so everything queued before a {@link #delivered()} call is
 * still delivered before it completes; events of different keys may then pass each other). The backlog is then
 * at most one event per key; the next coalescing happens when it has doubled (or reached
 * {@code bound}), so the cost stays O(1) amortized per event. With keys that name objects, the
 * backlog is bounded by the number of objects (as a peer's outbox is).
 *
 * <h2>Concurrency</h2>
 * {@code queue}, {@code running}, {@code inFlight}, {@code nextSequence}, {@code coalesceAt} and
 * {@code waiters} are guarded by {@code this}. Deliveries run outside the lock, one at a time; one
 * that throws is logged and does not stop the others. Futures are completed outside the lock.
 *
 * @param <K> what events coalesce by
 * @param <E> the events
 */
final class CoalescingQueue<K, E> {
  private static final Logger LOG = Logger.getLogger(CoalescingQueue.class);

  private record Item<K, E>(long sequence, K key, E event) {}

  private record Waiter(long sequence, CompletableFuture<Void> done) {}

  private final String name;
  private final Executor pool;
  private final Consumer<E> deliver;
  private final BinaryOperator<E> merge;
  private final int bound;
  private final Deque<Item<K, E>> queue = new ArrayDeque<>();
  private final List<Waiter> waiters = new ArrayList<>();
  private boolean running;
  private long inFlight = -1;
  private long nextSequence;
  private int coalesceAt;

  /**
   * @param name what is delivered, for the log
   * @param merge the event that stands for an older and a newer one of the same key
   */
  CoalescingQueue(String name, Executor pool, int bound, BinaryOperator<E> merge, Consumer<E> deliver) {
    if (bound < 1) {
      throw new IllegalArgumentException("bound must be positive, got " + bound);
    }
    this.name = name;
    this.pool = pool;
    this.bound = bound;
    this.merge = merge;
    this.deliver = deliver;
    this.coalesceAt = bound;
  }

  void add(K key, E event) {
    synchronized (this) {
      queue.add(new Item<>(nextSequence++, key, event));
      if (queue.size() >= coalesceAt) {
        coalesce();
      }
      if (running) {
        return;
      }
      running = true;
    }
    try {
      pool.execute(this::drain);
    } catch (RuntimeException e) { // rejected: the node is shutting down
      List<Waiter> done;
      synchronized (this) {
        queue.clear();
        running = false;
        done = finishedWaiters();
      }
      complete(done);
    }
  }

  /** Completes once every event queued so far has been delivered (or coalesced into a later one). */
  CompletableFuture<Void> delivered() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    List<Waiter> finished;
    synchronized (this) {
      waiters.add(new Waiter(nextSequence - 1, done));
      finished = finishedWaiters();
    }
    complete(finished);
    return done;
  }

  /** How many events wait. */
  synchronized int backlog() {
    return queue.size();
  }

  private void drain() {
    while (true) {
      Item<K, E> item;
      List<Waiter> done;
      synchronized (this) {
        inFlight = -1;
        done = finishedWaiters();
        item = queue.poll();
        if (item == null) {
          running = false;
        } else {
          inFlight = item.sequence();
        }
      }
      complete(done);
      if (item == null) {
        return;
      }
      try {
        deliver.accept(item.event());
      } catch (RuntimeException | Error e) {
        LOG.errorf(e, "Entanglement could not deliver %s", name);
      }
    }
  }

  /** Folds the backlog to one event per key, each in the place of the key's earliest. */
  private void coalesce() {
    int before = queue.size();
    Map<K, Item<K, E>> latest = new LinkedHashMap<>();
    for (Item<K, E> item : queue) {
      latest.merge(item.key(), item,
          (older, newer) -> new Item<>(older.sequence(), older.key(), merge.apply(older.event(), newer.event())));
    }
    queue.clear();
    queue.addAll(latest.values());
    coalesceAt = Math.max(bound, 2 * queue.size());
    LOG.debugf("Coalesced %s waiting %s into %s", (Object) before, name, (Object) queue.size());
  }

  /** Removes and returns the waiters whose events are all delivered. */
  private List<Waiter> finishedWaiters() {
    if (waiters.isEmpty()) {
      return List.of();
    }
    long lowest = inFlight >= 0 ? inFlight : queue.isEmpty() ? Long.MAX_VALUE : queue.peek().sequence();
    List<Waiter> done = new ArrayList<>();
    for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
      Waiter waiter = it.next();
      if (waiter.sequence() < lowest) {
        it.remove();
        done.add(waiter);
      }
    }
    return done;
  }

  private static void complete(List<Waiter> done) {
    for (Waiter waiter : done) {
      waiter.done().complete(null);
    }
  }
}
