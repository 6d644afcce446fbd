package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.CatchUpReport;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Set;

/**
 * The changes one peer answered as parked (kept with a reason and retried at the peer), by
 * object, until the peer answers a state of the object as applied or already current: what
 * {@link CatchUpReport} lists. One per peer name, kept across the peer's streams (a parked
 * change counts in the peer's position, so a new stream does not send it again).
 *
 * <h2>Concurrency</h2>
 * {@code parked} and {@code untracked} are guarded by {@code this}: updated on the serial
 * executor of the peer's stream (two streams with one peer may overlap briefly), read by
 * {@code caughtUp} callers.
 *
 * <h2>Bounds</h2>
 * At most {@link CatchUpReport#MAX_TRACKED} objects per peer; past it parked answers are only
 * counted ({@code untracked}), so a report then says "at least".
 */
public final class ParkedAtPeer {
  /** The reasons a receiver parks a change for (its {@code ParkingLot}); others are final refusals. */
  private static final Set<RejectReason> PARKED = EnumSet.of(RejectReason.MISSING_REFERENCE,
      RejectReason.CONSTRAINT_VIOLATION, RejectReason.WRONG_TYPE, RejectReason.UNKNOWN_ATTRIBUTE,
      RejectReason.INTERNAL, RejectReason.UNKNOWN_ENTITY);

  private record Entry(String key, Change change, String reason, String message) {}

  private final LinkedHashMap<String, Entry> parked = new LinkedHashMap<>();
  private int untracked;

  /** The peer answered {@code change} (of object {@code key}, {@code entity#id}) with {@code outcome}. */
  synchronized void answered(String key, Change change, Outcome outcome) {
    Entry known = parked.get(key);
    if (outcome.getStatus() == OutcomeStatus.REJECTED && PARKED.contains(outcome.getReason())) {
      if (known != null && newer(known.change(), change)) {
        return; // a newer parked state of the object is known
      }
      if (known == null && parked.size() >= CatchUpReport.MAX_TRACKED) {
        untracked++;
        return;
      }
      parked.remove(key); // the latest answer goes last
      parked.put(key, new Entry(key, change, outcome.getReason().name(), outcome.getMessage()));
    } else if (known != null && outcome.getStatus() != OutcomeStatus.REJECTED && !newer(known.change(), change)) {
      parked.remove(key); // this state or a newer one is held by the peer now
    }
  }

  synchronized boolean isEmpty() {
    return parked.isEmpty() && untracked == 0;
  }

  /** This node holds a newer state of the object than the parked one: the parked answer says nothing any more. */
  synchronized void superseded(String key, Change change) {
    Entry known = parked.get(key);
    if (known != null && known.change().equals(change)) {
      parked.remove(key);
    }
  }

  /** The parked changes, to send once more: the peer answers those it applied since as already current. */
  synchronized List<Change> toCheck() {
    List<Change> changes = new ArrayList<>(parked.size());
    parked.values().forEach(e -> changes.add(e.change()));
    return changes;
  }

  synchronized CatchUpReport report(String peer) {
    List<CatchUpReport.ParkedChange> listed = new ArrayList<>();
    for (Entry entry : parked.values()) {
      if (listed.size() == CatchUpReport.MAX_LISTED) {
        break;
      }
      Change change = entry.change();
      String key = entry.key();
      listed.add(new CatchUpReport.ParkedChange(change.getEntity(), key.substring(key.indexOf('#') + 1), change.getOwner(),
          change.getSerial(), entry.reason(), entry.message()));
    }
    return new CatchUpReport(peer, parked.size() + untracked, listed);
  }

  /** Whether {@code known} is a newer state than {@code other}: a later epoch, or the same owner's later serial. */
  private static boolean newer(Change known, Change other) {
    if (known.getEpoch() != other.getEpoch()) {
      return known.getEpoch() > other.getEpoch();
    }
    return known.getSerial() > other.getSerial() && known.getOwner().equals(other.getOwner());
  }
}
