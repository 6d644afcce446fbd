package dev.entanglement.hibernate.internal.transport;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps a peer that redials every few hundred milliseconds from flooding the log with the same
 * refusal: the first of each kind a minute is logged loudly, the rest quietly. Thread-safe.
 */
public final class QuietLog {
  private static final long WINDOW_NANOS = 60_000_000_000L;
  private static final int MAX_KINDS = 10_000;
  private static final Map<String, Long> LAST = new ConcurrentHashMap<>();

  private QuietLog() {}

  /** Whether this kind of message was not logged loudly in the last minute (and now counts as logged). */
  public static boolean first(String kind) {
    long now = System.nanoTime();
    Long last = LAST.get(kind);
    if (last != null && now - last < WINDOW_NANOS) {
      return false;
    }
    if (LAST.size() > MAX_KINDS) {
      LAST.clear();
    }
    LAST.put(kind, now);
    return true;
  }
}
