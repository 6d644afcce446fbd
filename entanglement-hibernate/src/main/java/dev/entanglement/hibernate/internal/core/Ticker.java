package dev.entanglement.hibernate.internal.core;

/**
 * A source of monotonic nanoseconds, injected wherever behaviour depends on elapsed time
 * (heartbeats, silence, time to live, request timeouts), so that tests move time by hand
 * instead of waiting for it.
 */
@FunctionalInterface
public interface Ticker {
  /** Nanoseconds from an arbitrary origin; only differences mean anything. */
  long nanos();

  /** The system's monotonic clock. */
  static Ticker system() {
    return System::nanoTime;
  }
}
