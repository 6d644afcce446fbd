package dev.entanglement.hibernate.internal.store;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.entanglement.hibernate.EntanglementSettings;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * The peers' acknowledged positions, of every owner: how far each peer has durably applied each
 * owner's objects, which peers are connected and when the others were last seen. It writes them
 * to the database (a lost write only delays compaction), retires peers away longer than
 * {@link EntanglementSettings#PEER_FORGET_AFTER}, and decides in one place how far every peer
 * that still needs an owner's tombstones holds that owner: {@link #lowestAcknowledged}. Anything
 * kept "until every known peer has it" (tombstones, a change log) is pruned by that rule.
 *
 * <h2>Who counts</h2>
 * For owner X: every peer but X itself (a node never sends X's objects back to X) that is
 * connected, whatever it acknowledged (it may be catching up right now), or that is away and has
 * acknowledged something of X. A peer away that acknowledged nothing of X (a name that only
 * completed a Hello, as a fuzzing client does, or a peer that never received X) holds nothing of
 * X this node would have to tell it to delete: if it returns with a position older than the
 * compaction, it gets a full synchronization of X with a sweep anyway, so it does not hold
 * compaction back, and it is not remembered once it leaves. A retired peer counts no more.
 *
 * <h2>Concurrency</h2>
 * Every map and set is guarded by {@code this}; the methods that touch them are synchronized and
 * short (acknowledgements come from the peers' serial executors, arrivals and departures from
 * the registry, flushes and retirement from the scheduler). The database is written outside the
 * lock; a flush that races with an acknowledgement writes it on the next flush. The
 * {@link Housekeeper} decides and publishes a compaction inside {@link #atomically}, so a peer
 * that arrives meanwhile either counts in the decision or, arriving after it, sees the new
 * compaction when its Hello is checked.
 */
public final class AckLedger {
  private static final Logger LOG = Logger.getLogger(AckLedger.class);
  /** How often a connected peer's "last seen" is written (it bounds what a crash of this node loses). */
  private static final long SEEN_WRITE_EVERY_MS = 60_000;

  private final SessionFactoryImplementor factory;
  private final Bookkeeping bookkeeping;
  private final String nodeName;
  private final Clock clock;
  /** Zero: peers are never retired. */
  private final Duration forgetAfter;
  /** Peer -> owner -> the highest serial it acknowledged (loaded, or in this run). */
  @GuardedBy("this")
  private final Map<String, Map<String, Long>> acked = new HashMap<>();
  /** Peer -> owner -> what the database holds of {@link #acked}. */
  @GuardedBy("this")
  private final Map<String, Map<String, Long>> written = new HashMap<>();
  /** The peers with a registered stream now. */
  @GuardedBy("this")
  private final Set<String> present = new HashSet<>();
  /** Peer -> when it was last connected (epoch milliseconds), for peers away. */
  @GuardedBy("this")
  private final Map<String, Long> lastSeen = new HashMap<>();
  /** Peer -> what the database holds of its last-seen time. */
  @GuardedBy("this")
  private final Map<String, Long> seenWritten = new HashMap<>();

  /**
   * @param positions per peer and owner, what the database holds
   * @param seen per peer, its stored last-seen time; a peer with positions but no such row (stored
   *     by an older version) counts as seen at this start
   */
  public AckLedger(SessionFactoryImplementor factory, Bookkeeping bookkeeping, String nodeName,
      Map<String, Map<String, Long>> positions, Map<String, Long> seen, Clock clock, Duration forgetAfter) {
    this.factory = factory;
    this.bookkeeping = bookkeeping;
    this.nodeName = nodeName;
    this.clock = clock;
    this.forgetAfter = forgetAfter;
    long now = clock.millis();
    synchronized (this) {
      for (Map.Entry<String, Map<String, Long>> peer : positions.entrySet()) {
        acked.put(peer.getKey(), new HashMap<>(peer.getValue()));
        written.put(peer.getKey(), new HashMap<>(peer.getValue()));
        lastSeen.put(peer.getKey(), seen.getOrDefault(peer.getKey(), now));
      }
      seenWritten.putAll(seen);
    }
  }

  /** The peer's stream was registered: it counts for compaction from now on, whatever it holds. */
  public synchronized void arrived(String peer) {
    present.add(peer);
  }

  /** The peer's registered stream ended. */
  public synchronized void departed(String peer) {
    present.remove(peer);
    if (holdsNothing(peer)) {
      acked.remove(peer); // nothing to remember: it would count for nothing
      lastSeen.remove(peer);
    } else {
      lastSeen.put(peer, clock.millis());
    }
  }

  /** The peer has durably applied the owner's objects through {@code serial}. */
  public synchronized void acknowledged(String peer, String owner, long serial) {
    if (owner.equals(peer) || peer.equals(nodeName) || serial < 0) {
      return; // a peer's own objects are never sent to it
    }
    acked.computeIfAbsent(peer, p -> new HashMap<>()).merge(owner, serial, Math::max);
  }

  /** How far a peer acknowledged an owner's objects (0 if never, or since it was retired). */
  public synchronized long acknowledgedBy(String peer, String owner) {
    Map<String, Long> byOwner = acked.get(peer);
    Long serial = byOwner == null ? null : byOwner.get(owner);
    return serial == null ? 0 : serial;
  }

  /** The owners a peer acknowledged positions of (kept until it is retired). */
  public synchronized Set<String> acknowledgedOwners(String peer) {
    Map<String, Long> byOwner = acked.get(peer);
    return byOwner == null ? Set.of() : Set.copyOf(byOwner.keySet());
  }

  /**
   * The lowest serial of {@code owner}'s objects that every peer that counts (see the class
   * comment) has acknowledged, at most {@code ceiling}: what may be pruned for that owner.
   */
  public synchronized long lowestAcknowledged(String owner, long ceiling) {
    long floor = ceiling;
    Set<String> peers = new HashSet<>(acked.keySet());
    peers.addAll(present);
    for (String peer : peers) {
      if (peer.equals(owner)) {
        continue;
      }
      long held = acknowledgedBy(peer, owner);
      if (held > 0 || present.contains(peer)) {
        floor = Math.min(floor, held);
      }
    }
    return floor;
  }

  /** Runs a decision while no peer arrives, departs or acknowledges (see the class comment). */
  public synchronized <T> T atomically(Supplier<T> decision) {
    return decision.get();
  }

  @GuardedBy("this")
  private boolean holdsNothing(String peer) {
    Map<String, Long> byOwner = acked.get(peer);
    if (byOwner != null) {
      for (long serial : byOwner.values()) {
        if (serial > 0) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * Retires the peers away longer than {@link EntanglementSettings#PEER_FORGET_AFTER}: their
   * positions are forgotten here and in the database, so they hold compaction back no more.
   * Peers away that acknowledged nothing are forgotten at once, whatever the setting. Returns
   * their names. Never throws.
   */
  public List<String> retireAbsent() {
    List<String> retired = new ArrayList<>();
    Map<String, Long> since = new HashMap<>();
    synchronized (this) {
      long now = clock.millis();
      Set<String> known = new HashSet<>(acked.keySet());
      known.addAll(lastSeen.keySet());
      for (String peer : known) {
        if (present.contains(peer)) {
          continue;
        }
        Long seen = lastSeen.get(peer);
        if (holdsNothing(peer)) {
          // counts for nothing (rows of 0 that older versions stored for every Hello): forgotten
          retired.add(peer);
        } else if (seen == null) {
          lastSeen.put(peer, now); // acknowledged without a registered stream: count from now
          continue;
        } else if (!forgetAfter.isZero() && now - seen > forgetAfter.toMillis()) {
          retired.add(peer);
          since.put(peer, seen);
        } else {
          continue;
        }
        acked.remove(peer);
        written.remove(peer);
        lastSeen.remove(peer);
        seenWritten.remove(peer);
      }
    }
    if (retired.isEmpty()) {
      return retired;
    }
    for (String peer : retired) {
      if (!since.containsKey(peer)) {
        LOG.debugf("Node '%s' forgets peer '%s', which acknowledged nothing", nodeName, peer);
        continue;
      }
      LOG.infof("Node '%s' retires peer '%s', away since %s (longer than %s=%s): its positions are forgotten so "
          + "that tombstones can be compacted; if it returns, it gets a full synchronization with a sweep",
          nodeName, peer, Instant.ofEpochMilli(since.get(peer)), EntanglementSettings.PEER_FORGET_AFTER,
          readable(forgetAfter));
    }
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      session.beginTransaction();
      session.doWork(connection -> {
        for (String peer : retired) {
          bookkeeping.forgetPeer(connection, peer);
        }
      });
      session.getTransaction().commit();
    } catch (RuntimeException e) {
      // forgotten here already; the rows are forgotten again after a restart
      LOG.warnf("Node '%s' could not remove the rows of retired peers %s: %s", nodeName, retired, e.getMessage());
    }
    return retired;
  }

  private static String readable(Duration duration) {
    if (duration.toMinutes() * 60_000 != duration.toMillis()) {
      return duration.toString();
    }
    long minutes = duration.toMinutes();
    return minutes % 1440 == 0 ? minutes / 1440 + "d" : minutes % 60 == 0 ? minutes / 60 + "h" : minutes + "m";
  }

  /** Writes the peers' positions and last-seen times that moved since the last flush. Never throws. */
  public void flush() {
    Map<String, Map<String, Long>> moved = new HashMap<>();
    Map<String, Long> seen = new HashMap<>();
    synchronized (this) {
      long now = clock.millis();
      for (Map.Entry<String, Map<String, Long>> entry : acked.entrySet()) {
        String peer = entry.getKey();
        Map<String, Long> stored = written.getOrDefault(peer, Map.of());
        for (Map.Entry<String, Long> owner : entry.getValue().entrySet()) {
          if (owner.getValue() > 0 && owner.getValue() > stored.getOrDefault(owner.getKey(), 0L)) {
            moved.computeIfAbsent(peer, p -> new HashMap<>()).put(owner.getKey(), owner.getValue());
          }
        }
        if (holdsNothing(peer)) {
          continue;
        }
        Long storedSeen = seenWritten.get(peer);
        if (present.contains(peer)) {
          if (storedSeen == null || now - storedSeen >= SEEN_WRITE_EVERY_MS) {
            seen.put(peer, now);
          }
        } else {
          long at = lastSeen.getOrDefault(peer, now);
          if (storedSeen == null || storedSeen != at) {
            seen.put(peer, at);
          }
        }
      }
    }
    if (moved.isEmpty() && seen.isEmpty()) {
      return;
    }
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      session.beginTransaction();
      session.doWork(connection -> {
        for (Map.Entry<String, Map<String, Long>> peer : moved.entrySet()) {
          for (Map.Entry<String, Long> owner : peer.getValue().entrySet()) {
            bookkeeping.writePeerPosition(connection, peer.getKey(), owner.getKey(), owner.getValue());
          }
        }
        for (Map.Entry<String, Long> peer : seen.entrySet()) {
          bookkeeping.writePeerSeen(connection, peer.getKey(), peer.getValue());
        }
      });
      session.getTransaction().commit();
      synchronized (this) {
        for (Map.Entry<String, Map<String, Long>> peer : moved.entrySet()) {
          if (acked.containsKey(peer.getKey())) { // not retired meanwhile
            Map<String, Long> stored = written.computeIfAbsent(peer.getKey(), p -> new HashMap<>());
            for (Map.Entry<String, Long> owner : peer.getValue().entrySet()) {
              stored.merge(owner.getKey(), owner.getValue(), Math::max);
            }
          }
        }
        seenWritten.putAll(seen);
      }
    } catch (RuntimeException e) {
      LOG.warnf("Node '%s' could not record its peers' positions (retried at the next flush): %s", nodeName,
          e.getMessage());
    }
  }
}
