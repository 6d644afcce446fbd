package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.internal.core.LimitedLog;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.jboss.logging.Logger;

/**
 * What one peer's stream does when deciding or offering one of the changes it should send fails
 * after the commit (a send policy throws, an object-level policy cannot read the database): the
 * failure is logged once per peer and kind a minute, and the change is read again from the
 * database after a backoff (the node's reconnect backoff: initial delay doubling to the maximum),
 * on the same stream. Meanwhile the peer's position of the change's owner is held below it
 * ({@link PeerOutbox#hold}), so a change that could not be sent is never skipped. The backoff
 * starts again from the bottom once a read from the database passed the policies.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: {@code attempts} is atomic and the log limiter is thread-safe.
 */
final class SendFailures {
  private static final Logger LOG = Logger.getLogger(SendFailures.class);
  private static final LimitedLog LIMITED = new LimitedLog(LOG);

  private final Duration initialDelay;
  private final Duration maxDelay;
  private final AtomicInteger attempts = new AtomicInteger();

  SendFailures(Duration initialDelay, Duration maxDelay) {
    this.initialDelay = initialDelay;
    this.maxDelay = maxDelay;
  }

  /** Logs a failure to decide or offer {@code what} (an object's key) for the peer. */
  void failed(String nodeName, String peer, String where, String what, Throwable cause) {
    LIMITED.warn(nodeName + '|' + peer + '|' + where + '|' + cause.getClass().getName(),
        ("Node '%s' could not %s %s for peer '%s' (%s); the peer's position stays below it and it is read again "
            + "from the database after a backoff").formatted(nodeName, where, what, peer, cause));
  }

  /** The delay before the next try: the initial delay doubling with each try, up to the maximum. */
  long nextDelayMillis() {
    int attempt = Math.min(attempts.getAndIncrement(), 20);
    return Math.min(maxDelay.toMillis(), initialDelay.toMillis() << attempt);
  }

  /** A read from the database passed the policies: the backoff starts again from the bottom. */
  void succeeded() {
    attempts.set(0);
  }
}
