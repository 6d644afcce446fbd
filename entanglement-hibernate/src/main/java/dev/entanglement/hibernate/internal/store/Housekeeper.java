package dev.entanglement.hibernate.internal.store;

import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * Periodic housekeeping: writes the peers' positions, removes tombstones every known peer has
 * acknowledged, and retries parked changes. A peer that comes back after its tombstones are
 * gone gets a full synchronization with a sweep.
 *
 * <h2>Concurrency</h2>
 * {@link #run} is called from the scheduler (and by tests and operators); it is synchronized so
 * that two runs never compact at once. {@code compactedThrough} is volatile: peers read it.
 */
public final class Housekeeper {
  private static final Logger LOG = Logger.getLogger(Housekeeper.class);

  private final SessionFactoryImplementor factory;
  private final Bookkeeping bookkeeping;
  private final String nodeName;
  private final SerialClock clock;
  private final AckLedger ledger;
  private final Runnable retryParked;
  private volatile long compactedThrough;

  public Housekeeper(SessionFactoryImplementor factory, Bookkeeping bookkeeping, String nodeName, SerialClock clock,
      AckLedger ledger, long compactedThrough, Runnable retryParked) {
    this.factory = factory;
    this.bookkeeping = bookkeeping;
    this.nodeName = nodeName;
    this.clock = clock;
    this.ledger = ledger;
    this.compactedThrough = compactedThrough;
    this.retryParked = retryParked;
  }

  /** This node's tombstones up to this serial are compacted away. */
  public long compactedThrough() {
    return compactedThrough;
  }

  /** One round of housekeeping. Never throws. */
  public synchronized void run() {
    try {
      ledger.flush();
      long target = ledger.lowestWritten(clock.lowestUnfinished() - 1);
      if (target > compactedThrough) {
        int removed;
        try (var session = factory.openStatelessSession()) {
          session.beginTransaction();
          removed = session.doReturningWork(c -> bookkeeping.compactTombstones(c, nodeName, target));
          session.getTransaction().commit();
        }
        compactedThrough = target;
        if (removed > 0) {
          LOG.debugf("Node '%s' removed %d tombstones acknowledged by every known peer (through serial %d)",
              nodeName, removed, target);
        }
      }
      retryParked.run();
    } catch (RuntimeException e) {
      LOG.warnf("Entanglement housekeeping of node '%s' failed (retried at the next round): %s", nodeName,
          e.getMessage());
    }
  }
}
