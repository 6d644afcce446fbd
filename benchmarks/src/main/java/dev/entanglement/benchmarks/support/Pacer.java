package dev.entanglement.benchmarks.support;

import java.util.concurrent.locks.LockSupport;

/**
 * Paces a loop to a fixed rate with absolute deadlines: a late iteration does not push the later
 * ones back, so the offered rate stays the one asked for.
 */
public final class Pacer {
  private final long interval;
  private long next;

  public Pacer(int perSecond) {
    this.interval = 1_000_000_000L / perSecond;
    this.next = System.nanoTime();
  }

  /** Parks until the next deadline (at once if it has passed). */
  public void awaitNext() {
    long wait;
    while ((wait = next - System.nanoTime()) > 0) {
      LockSupport.parkNanos(wait);
    }
    next += interval;
  }
}
