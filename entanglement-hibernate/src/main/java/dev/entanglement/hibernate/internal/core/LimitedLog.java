package dev.entanglement.hibernate.internal.core;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * Logs a kind of problem loudly at most once per interval per key (a peer, say), with the count
 * of those logged quietly (at DEBUG) since, so that a failing database or a hostile peer cannot
 * flood the log. The number of keys is bounded: past it, the oldest bookkeeping is dropped.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: a concurrent map of per-key windows, each updated with atomics; two threads
 * racing at a window's edge may both log loudly, which is harmless.
 */
public final class LimitedLog {
  private static final int MAX_KEYS = 10_000;

  private final Logger log;
  private final Ticker ticker;
  private final long intervalNanos;
  private final Map<String, Window> windows = new ConcurrentHashMap<>();

  public LimitedLog(Logger log) {
    this(log, Ticker.system(), TimeUnit.MINUTES.toNanos(1));
  }

  public LimitedLog(Logger log, Ticker ticker, long intervalNanos) {
    this.log = log;
    this.ticker = ticker;
    this.intervalNanos = intervalNanos;
  }

  private static final class Window {
    final AtomicLong startedAt = new AtomicLong();
    final AtomicLong quiet = new AtomicLong();
  }

  /** Logs {@code message} at WARN for the first time in the interval for {@code key}, else at DEBUG. */
  public void warn(String key, String message) {
    if (windows.size() > MAX_KEYS) {
      windows.clear();
    }
    long now = ticker.nanos();
    boolean[] fresh = {false};
    Window window = windows.computeIfAbsent(key, k -> {
      fresh[0] = true;
      Window w = new Window();
      w.startedAt.set(now);
      return w;
    });
    long started = window.startedAt.get();
    if (fresh[0] || now - started >= intervalNanos && window.startedAt.compareAndSet(started, now)) {
      long quiet = window.quiet.getAndSet(0);
      log.warn(quiet == 0 ? message : message + " (%d more like it logged at DEBUG in the last minute)".formatted(quiet));
    } else {
      window.quiet.incrementAndGet();
      log.debug(message);
    }
  }
}
