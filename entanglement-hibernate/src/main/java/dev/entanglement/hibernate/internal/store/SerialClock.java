package dev.entanglement.hibernate.internal.store;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.List;
import java.util.TreeSet;
import java.util.function.LongConsumer;

/**
 * Gives out this node's serials and knows which are still unfinished, so that positions never
 * pass a serial whose transaction may still commit.
 *
 * <h2>Concurrency</h2>
 * {@code lastSerial} and {@code unfinished} are guarded by {@code this}; every method is short
 * and never blocks on I/O.
 */
public final class SerialClock {
  @GuardedBy("this")
  private long lastSerial;
  @GuardedBy("this")
  private final TreeSet<Long> unfinished = new TreeSet<>();
  /** Every serial given out up to here was moved above a peer's holdings, or given out after that. */
  @GuardedBy("this")
  private long movedThrough = -1;

  public SerialClock(long lastSerial) {
    this.lastSerial = lastSerial;
  }

  /** The next serial for one of this node's objects; unfinished until {@link #finished}. */
  public synchronized long next() {
    long next = ++lastSerial;
    unfinished.add(next);
    return next;
  }

  /** The transaction that took these serials has completed (committed and published, or not). */
  public synchronized void finished(List<Long> serials) {
    unfinished.removeAll(serials);
  }

  /** Every serial below this one is finished. */
  public synchronized long lowestUnfinished() {
    return unfinished.isEmpty() ? lastSerial + 1 : unfinished.first();
  }

  /** Makes sure the next serial is above {@code serial} (a peer holds that much of ours). */
  public synchronized void ensureAbove(long serial) {
    lastSerial = Math.max(lastSerial, serial);
  }

  /**
   * A peer holds serials of this node up to {@code held}, beyond what this node's database has
   * (its database lost commits, or was restored from a backup): every serial from now on, and
   * every serial already stored once {@code shift} has moved them by the returned offset, is
   * above {@code held}, so the peer takes this node's states as newer than the ones it keeps.
   *
   * <p>Done once for a loss that several peers report: a {@code held} no higher than the serials
   * a move already covered is a no-op (returns 0). The clock having passed {@code held} is not
   * such a cover: after a restart the node gives out serials again above what its database kept,
   * so the peer's serial may now name another state, and the stored ones are still below it.
   *
   * @param shift moves the stored serials of this node's objects up by the offset it is given
   */
  public synchronized long moveAbove(long held, LongConsumer shift) {
    if (held <= movedThrough) {
      return 0;
    }
    long offset = held + 1;
    lastSerial += offset;
    shift.accept(offset);
    movedThrough = lastSerial;
    return offset;
  }

  /** The highest serial given out. */
  public synchronized long last() {
    return lastSerial;
  }
}
