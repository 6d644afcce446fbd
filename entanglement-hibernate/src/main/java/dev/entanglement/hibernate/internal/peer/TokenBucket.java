package dev.entanglement.hibernate.internal.peer;

/**
 * Paces sending to a bandwidth limit: tokens (bytes) accrue at the limit's rate up to a quarter
 * second's worth; a message may overdraw the bucket, and the debt delays the next one. So over
 * any interval the bytes sent stay within the limit plus one burst and one message.
 *
 * <h2>Concurrency</h2>
 * Not thread-safe: confined to the peer's serial executor.
 */
final class TokenBucket {
  private final long bytesPerSecond;
  private final long capacity;
  private double tokens;
  private long lastRefillNanos;

  /** @param bytesPerSecond the limit; 0 or less means unlimited */
  TokenBucket(long bytesPerSecond, long nowNanos) {
    this.bytesPerSecond = bytesPerSecond;
    this.capacity = Math.max(1, bytesPerSecond / 4);
    this.tokens = capacity;
    this.lastRefillNanos = nowNanos;
  }

  boolean limited() {
    return bytesPerSecond > 0;
  }

  /** Largest message worth sending at once under the limit (an eighth of a second's worth). */
  long messageBudget() {
    return limited() ? Math.max(512, bytesPerSecond / 8) : Long.MAX_VALUE;
  }

  /** Nanoseconds to wait before sending is allowed again, 0 if it is allowed now. */
  long waitNanos(long nowNanos) {
    if (!limited()) {
      return 0;
    }
    refill(nowNanos);
    if (tokens > 0) {
      return 0;
    }
    return (long) ((1 - tokens) * 1_000_000_000L / bytesPerSecond);
  }

  void spend(long bytes, long nowNanos) {
    if (limited()) {
      refill(nowNanos);
      tokens -= bytes;
    }
  }

  private void refill(long nowNanos) {
    long elapsed = nowNanos - lastRefillNanos;
    lastRefillNanos = nowNanos;
    tokens = Math.min(capacity, tokens + (double) elapsed * bytesPerSecond / 1_000_000_000L);
  }
}
