package dev.entanglement.hibernate.internal.store;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * Periodic housekeeping: writes the peers' positions, retires peers away too long, removes the
 * tombstones every peer that counts has acknowledged ({@link AckLedger#lowestAcknowledged}), of
 * this node's own objects and of every owner it relays, and this node's logged changes
 * ({@link ChangeLog}) by the same rule, retries parked changes, and forgets the owner's records of
 * applied update requests older than twice the request lifetime. A peer that
 * comes back after tombstones it needed are gone gets a full synchronization of that owner with
 * a sweep (the peer connection checks {@link #compactedThrough(String)} against its Hello).
 *
 * <h2>Concurrency</h2>
 * {@link #run} is called from the scheduler (and by tests and operators); it is synchronized so
 * that two runs never compact at once. {@code compactedThrough} and {@code changeLogSize} are
 * volatile and {@code relayedThrough} a concurrent map: peers and meters read them. Each compaction is decided and
 * published inside {@link AckLedger#atomically} before its rows are deleted, so a peer arriving
 * at any moment either holds the compaction back or sees it.
 */
public final class Housekeeper {
  private static final Logger LOG = Logger.getLogger(Housekeeper.class);

  private final SessionFactoryImplementor factory;
  private final Bookkeeping bookkeeping;
  private final String nodeName;
  private final SerialClock clock;
  private final AckLedger ledger;
  /** Per other owner, how far this node holds its objects complete (the ceiling of a relay's compaction). */
  private final Supplier<Map<String, Long>> heldPositions;
  private final Runnable retryParked;
  private volatile long compactedThrough;
  private final Map<String, Long> relayedThrough = new ConcurrentHashMap<>();
  private volatile long changeLogSize = -1;
  /** Set once at start, before the first round; read by rounds (both synchronized). */
  private PendingRequestStore appliedRequests;
  private java.time.Duration keepAppliedRequests;
  private java.time.Clock wallClock;

  public Housekeeper(SessionFactoryImplementor factory, Bookkeeping bookkeeping, String nodeName, SerialClock clock,
      AckLedger ledger, long compactedThrough, Map<String, Long> relayedCompactions,
      Supplier<Map<String, Long>> heldPositions, Runnable retryParked) {
    this.factory = factory;
    this.bookkeeping = bookkeeping;
    this.nodeName = nodeName;
    this.clock = clock;
    this.ledger = ledger;
    this.compactedThrough = compactedThrough;
    this.relayedThrough.putAll(relayedCompactions);
    this.heldPositions = heldPositions;
    this.retryParked = retryParked;
  }

  /** This node's tombstones up to this serial are compacted away. */
  public long compactedThrough() {
    return compactedThrough;
  }

  /** The owner's tombstones held here up to this serial are compacted away (this node's or a relayed owner's). */
  public long compactedThrough(String owner) {
    return owner.equals(nodeName) ? compactedThrough : relayedThrough.getOrDefault(owner, 0L);
  }

  /**
   * Also removes the owner's records of applied update requests older than {@code keep} (twice
   * the request lifetime: a requester retries a request at most for its lifetime).
   */
  public synchronized void appliedRequests(PendingRequestStore store, java.time.Duration keep, java.time.Clock clock) {
    this.appliedRequests = store;
    this.keepAppliedRequests = keep;
    this.wallClock = clock;
  }

  private void forgetAppliedRequests() {
    if (appliedRequests != null) {
      appliedRequests.forgetAppliedBefore(wallClock.instant().minus(keepAppliedRequests));
    }
  }

  /** How many changes the change log held at the last round (-1 before the first). */
  public long changeLogSize() {
    return changeLogSize;
  }

  /** One round of housekeeping. Never throws. */
  public synchronized void run() {
    try {
      ledger.flush();
      ledger.retireAbsent();
      compact(nodeName, clock.lowestUnfinished() - 1);
      for (Map.Entry<String, Long> held : heldPositions.get().entrySet()) {
        if (!held.getKey().equals(nodeName)) {
          compact(held.getKey(), held.getValue());
        }
      }
      try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
        session.beginTransaction();
        changeLogSize = session.doReturningWork(c -> bookkeeping.changeLog().size(c));
        session.getTransaction().commit();
      }
      retryParked.run();
      forgetAppliedRequests();
    } catch (RuntimeException e) {
      LOG.warnf("Entanglement housekeeping of node '%s' failed (retried at the next round): %s", nodeName,
          e.getMessage());
    }
  }

  /**
   * A full synchronization's sweep removed objects of a relayed owner here (its database lost
   * commits, or this node had diverged): no tombstones tell the peers this node relays the owner
   * to, so the owner counts as compacted through {@code position}, and every peer below it gets a
   * full synchronization of the owner with a sweep, now or when it reconnects.
   */
  public synchronized void sweptRelayed(String owner, long position) {
    if (owner.equals(nodeName)) {
      return;
    }
    boolean raised = ledger.atomically(() -> {
      if (position <= compactedThrough(owner)) {
        return false;
      }
      relayedThrough.put(owner, position); // published before the rows go, as in compact()
      return true;
    });
    if (!raised) {
      return;
    }
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      session.beginTransaction();
      session.doWork(c -> bookkeeping.compactRelayedTombstones(c, owner, position));
      session.getTransaction().commit();
    }
  }

  /** Removes the owner's tombstones every peer that counts has, up to {@code ceiling}. */
  private void compact(String owner, long ceiling) {
    boolean own = owner.equals(nodeName);
    long target = ledger.atomically(() -> {
      long floor = ledger.lowestAcknowledged(owner, ceiling);
      if (floor <= compactedThrough(owner)) {
        return -1L;
      }
      // published before the rows go: a peer arriving from now on compares its Hello with it (if
      // the delete fails, such a peer merely gets a full synchronization it did not need)
      if (own) {
        compactedThrough = floor;
      } else {
        relayedThrough.put(owner, floor);
      }
      return floor;
    });
    if (target < 0) {
      return;
    }
    int[] removed = new int[3];
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      session.beginTransaction();
      session.doWork(c -> {
        removed[0] = own
            ? bookkeeping.compactTombstones(c, nodeName, target)
            : bookkeeping.compactRelayedTombstones(c, owner, target);
        // the same rule for this node's logged changes (relays log none)
        removed[1] = own ? bookkeeping.changeLog().prune(c, nodeName, target) : 0;
        // and for prior states (withdrawals on catch-up), this node's and relayed owners' alike
        removed[2] = bookkeeping.priorStates().prune(c, owner, target);
      });
      session.getTransaction().commit();
    }
    if (removed[0] + removed[1] + removed[2] > 0) {
      LOG.debugf("Node '%s' removed %d tombstones, %d logged changes and %d prior states of '%s' acknowledged by "
          + "every peer that needs them (through serial %d)", nodeName, removed[0], removed[1], removed[2], owner,
          target);
    }
  }
}
