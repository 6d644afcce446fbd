package dev.entanglement.hibernate.internal.store;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * Remembers how far each peer has durably applied each owner's objects, and writes the peers'
 * positions of this node's own objects to the database (they guide tombstone compaction and
 * lag; a lost write only delays compaction).
 *
 * <h2>Concurrency</h2>
 * The three maps are concurrent; {@link #acknowledged} is called from the peers' serial
 * executors, {@link #flush} from the scheduler and at stop. A flush that races with an
 * acknowledgement writes it on the next flush.
 */
public final class AckLedger {
  private static final Logger LOG = Logger.getLogger(AckLedger.class);

  private final SessionFactoryImplementor factory;
  private final Bookkeeping bookkeeping;
  private final String nodeName;
  /** Peer -> the highest serial of this node's objects it acknowledged (not yet written). */
  private final Map<String, Long> ownAcknowledged = new ConcurrentHashMap<>();
  /** Peer -> what of this node's objects is written in the database. */
  private final Map<String, Long> ownWritten = new ConcurrentHashMap<>();
  /** Peer -> owner -> serial acknowledged in this run. */
  private final Map<String, Map<String, Long>> byPeer = new ConcurrentHashMap<>();

  public AckLedger(SessionFactoryImplementor factory, Bookkeeping bookkeeping, String nodeName,
      Map<String, Long> written) {
    this.factory = factory;
    this.bookkeeping = bookkeeping;
    this.nodeName = nodeName;
    this.ownWritten.putAll(written);
  }

  /** The peer has durably applied the owner's objects through {@code serial}. */
  public void acknowledged(String peer, String owner, long serial) {
    if (owner.equals(nodeName)) {
      ownAcknowledged.merge(peer, serial, Math::max);
    }
    byPeer.computeIfAbsent(peer, p -> new ConcurrentHashMap<>()).merge(owner, serial, Math::max);
  }

  /** How far a peer acknowledged an owner's objects in this run (0 if never). */
  public long acknowledgedBy(String peer, String owner) {
    Map<String, Long> byOwner = byPeer.get(peer);
    Long serial = byOwner == null ? null : byOwner.get(owner);
    return serial == null ? 0 : serial;
  }

  /** The lowest serial of this node's objects that every known peer has written as acknowledged. */
  public long lowestWritten(long ceiling) {
    long through = ceiling;
    for (long acked : ownWritten.values()) {
      through = Math.min(through, acked);
    }
    return through;
  }

  /** Writes the peers' positions that moved since the last flush. Never throws. */
  public void flush() {
    Map<String, Long> moved = new HashMap<>();
    ownAcknowledged.forEach((peer, serial) -> {
      if (serial > ownWritten.getOrDefault(peer, -1L)) {
        moved.put(peer, serial);
      }
    });
    if (moved.isEmpty()) {
      return;
    }
    try (var session = factory.openStatelessSession()) {
      session.beginTransaction();
      session.doWork(connection -> {
        for (Map.Entry<String, Long> entry : moved.entrySet()) {
          bookkeeping.writePeerPosition(connection, entry.getKey(), nodeName, entry.getValue());
        }
      });
      session.getTransaction().commit();
      ownWritten.putAll(moved);
    } catch (RuntimeException e) {
      LOG.warnf("Node '%s' could not record its peers' positions (retried at the next flush): %s", nodeName,
          e.getMessage());
    }
  }
}
