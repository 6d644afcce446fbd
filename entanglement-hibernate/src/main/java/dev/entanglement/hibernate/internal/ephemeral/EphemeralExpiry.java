package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.hibernate.internal.core.Ticker;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.TreeSet;

/**
 * Decides when ephemeral objects' time to live runs out: one deadline per object, kept in order,
 * so that finding the objects due costs O(log n) each and nothing else is looked at.
 *
 * <p>It is a priority queue of deadlines indexed by object, which is what a {@code DelayQueue}
 * would be if it could move or cancel an element in O(log n) (its {@code remove} scans the whole
 * queue, and lazy cancellation would leave a stale deadline behind for every refresh: a cursor
 * put 100 times a second with a time to live of a minute would keep 6,000 of them). Scheduling,
 * rescheduling (a refresh) and cancelling an object are O(log n); {@link #pollExpired()} is
 * O(log n) per object it returns and O(1) when none is due. Time comes from the injected
 * {@link Ticker}.
 *
 * <h2>Concurrency</h2>
 * Not thread-safe. {@code byDeadline}, {@code byKey} and {@code sequence} are confined to the
 * owner of the {@link EphemeralTable} that holds this expiry (callers hold the store's lock).
 *
 * @param <K> the objects' keys (with {@code equals} and {@code hashCode})
 */
final class EphemeralExpiry<K> {
  /** One object's deadline; {@code sequence} orders equal deadlines and keeps timers distinct. */
  private record Timer<K>(long deadline, long sequence, K key) {}

  private static final Comparator<Timer<?>> ORDER =
      Comparator.<Timer<?>>comparingLong(Timer::deadline).thenComparingLong(Timer::sequence);

  private final Ticker ticker;
  private final NavigableSet<Timer<K>> byDeadline = new TreeSet<>(ORDER);
  private final Map<K, Timer<K>> byKey = new HashMap<>();
  private long sequence;

  EphemeralExpiry(Ticker ticker) {
    this.ticker = ticker;
  }

  /** The object expires {@code ttlNanos} from now; a deadline it had before is replaced. */
  void schedule(K key, long ttlNanos) {
    if (ttlNanos <= 0) {
      throw new IllegalArgumentException("time to live must be positive, got " + ttlNanos + " ns");
    }
    cancel(key);
    Timer<K> timer = new Timer<>(ticker.nanos() + ttlNanos, sequence++, key);
    byKey.put(key, timer);
    byDeadline.add(timer);
  }

  /** The object no longer expires (removed, or put again without a time to live). Returns whether it had a deadline. */
  boolean cancel(K key) {
    Timer<K> timer = byKey.remove(key);
    if (timer == null) {
      return false;
    }
    byDeadline.remove(timer);
    return true;
  }

  /** The time to live the object has left in nanoseconds (0 when due), or -1 if it has no deadline. */
  long remainingNanos(K key) {
    Timer<K> timer = byKey.get(key);
    return timer == null ? -1 : Math.max(0, timer.deadline() - ticker.nanos());
  }

  /** Removes and returns the objects whose deadline has come, earliest first. */
  List<K> pollExpired() {
    long now = ticker.nanos();
    List<K> due = new ArrayList<>();
    while (!byDeadline.isEmpty() && byDeadline.first().deadline() - now <= 0) {
      Timer<K> timer = byDeadline.pollFirst();
      byKey.remove(timer.key());
      due.add(timer.key());
    }
    return due;
  }

  /** How many objects have a deadline. */
  int size() {
    return byKey.size();
  }
}
