package dev.entanglement.hibernate;

import java.util.List;

/**
 * What {@link Entanglement#caughtUp} found on one link once the peer had answered everything
 * this node had to send it: the changes the peer holds parked (received, kept with a reason and
 * retried there, not applied yet: a parent that has not arrived, a unique constraint a local row
 * holds, an entity type the peer does not have yet). Empty when the peer holds everything.
 * Immutable.
 *
 * <p>It covers what this node sent the peer since this node started, as the peer answered it.
 * Before the report is made, each parked change that is still this node's current state of its
 * object is sent once more (the peer answers already current if it applied it since, on its own
 * retry); one whose object has a newer state here is no longer listed (that state goes to the
 * peer as usual, and is reported if the peer parks it in turn).
 *
 * @param peer the peer's node name
 * @param parkedCount how many changes sent from here the peer holds parked (at least this many
 *     once more than {@link #MAX_TRACKED} are)
 * @param parked the parked changes, at most {@link #MAX_LISTED}, oldest answer first
 */
public record CatchUpReport(String peer, int parkedCount, List<ParkedChange> parked) {
  /** Most parked changes listed in a report. */
  public static final int MAX_LISTED = 100;
  /** Most parked changes tracked per peer; beyond, they are only counted. */
  public static final int MAX_TRACKED = 1_000;

  public CatchUpReport {
    parked = List.copyOf(parked);
  }

  /** Whether the peer holds everything this node sent it. */
  public boolean nothingParked() {
    return parkedCount == 0;
  }

  /**
   * One change the peer holds parked.
   *
   * @param entity the entity name
   * @param id the object's id, as text
   * @param owner the node that owns the object
   * @param serial the owner's serial of the parked state
   * @param reason why the peer parked it: {@code MISSING_REFERENCE}, {@code CONSTRAINT_VIOLATION},
   *     {@code UNKNOWN_ENTITY}, {@code UNKNOWN_ATTRIBUTE}, {@code WRONG_TYPE} or {@code INTERNAL}
   * @param message the peer's explanation
   */
  public record ParkedChange(String entity, String id, String owner, long serial, String reason, String message) {}
}
