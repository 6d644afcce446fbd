package dev.entanglement.hibernate.internal.store;

import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * Periodic housekeeping: writes the peers' positions, removes tombstones and logged changes
 * ({@link ChangeLog}) every known peer has acknowledged, and retries parked changes. A peer that
 * comes back after its tombstones are gone gets a full synchronization with a sweep.
 *
 * <h2>Concurrency</h2>
 * {@link #run} is called from the scheduler (and by tests and operators); it is synchronized so
 * that two runs never compact at once. {@code compactedThrough} and {@code changeLogSize} are
 * volatile: peers and meters read them.
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
  private volatile long changeLogSize;

  public Housekeeper(SessionFactoryImplementor factory, Bookkeeping bookkeeping, String nodeName, SerialClock clock,
      AckLedger ledger, long compactedThrough, Runnable retryParked) {
    this.factory = factory;
    this.bookkeeping = bookkeeping;
    this.nodeName = nodeName;
    this.clock = clock;
    this.ledger = ledger;
    this.compactedThrough = compactedThrough;
    this.retryParked = retryParked;
    this.changeLogSize = -1;
  }

  /** This node's tombstones up to this serial are compacted away. */
  public long compactedThrough() {
    return compactedThrough;
  }

  /** How many changes the change log held at the last round (-1 before the first). */
  public long changeLogSize() {
    return changeLogSize;
  }

  /** One round of housekeeping. Never throws. */
  public synchronized void run() {
    try {
      ledger.flush();
      // one rule for tombstones and the change log: what every known peer has acknowledged
      long target = ledger.lowestWritten(clock.lowestUnfinished() - 1);
      if (target > compactedThrough) {
        int[] removed = new int[2];
        try (var session = factory.openStatelessSession()) {
          session.beginTransaction();
          session.doWork(c -> {
            removed[0] = bookkeeping.compactTombstones(c, nodeName, target);
            removed[1] = bookkeeping.changeLog().prune(c, nodeName, target);
          });
          session.getTransaction().commit();
        }
        compactedThrough = target;
        if (removed[0] + removed[1] > 0) {
          LOG.debugf("Node '%s' removed %d tombstones and %d logged changes acknowledged by every known peer "
              + "(through serial %d)", nodeName, removed[0], removed[1], target);
        }
      }
      try (var session = factory.openStatelessSession()) {
        session.beginTransaction();
        changeLogSize = session.doReturningWork(c -> bookkeeping.changeLog().size(c));
        session.getTransaction().commit();
      }
      retryParked.run();
    } catch (RuntimeException e) {
      LOG.warnf("Entanglement housekeeping of node '%s' failed (retried at the next round): %s", nodeName,
          e.getMessage());
    }
  }
}
