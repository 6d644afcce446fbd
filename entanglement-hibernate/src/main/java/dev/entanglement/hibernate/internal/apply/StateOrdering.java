package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.RejectReason;

/**
 * Decides whether a received state of an object replaces the state this node knows: a pure
 * function of the object's bookkeeping row and the incoming change (no I/O, no clock, no state).
 *
 * <p>The rules, in the order they are checked (a row that does not exist yet always applies):
 *
 * <ol>
 *   <li><b>Epoch order.</b> A lower ownership epoch than the row's is an older owner's state:
 *       already current.
 *   <li><b>Hand-over.</b> A higher epoch is a later owner: it applies whatever its serial, unless
 *       the object is this node's own and was not handed over to the change's owner (rejected,
 *       {@link RejectReason#NOT_OWNER}), or (signed state) its chain of signed hand-overs does not
 *       pass through the owner this node knows at the epoch it knows ({@link RejectReason#SIGNATURE}).
 *   <li><b>Own objects.</b> At the same epoch, nobody else changes an object this node owns
 *       (rejected, {@code NOT_OWNER}).
 *   <li><b>Serial order.</b> At the same epoch and owner, a serial not above the row's is already
 *       current, except an upsert with exactly the serial of a swept tombstone: a swept
 *       (withdrawn) object keeps its last state's serial, so the same state sent again
 *       (re-granted, resynchronized) restores it; a real deletion has a serial of its own.
 *   <li><b>Owner changes.</b> At the same epoch, another owner may take over only a tombstone;
 *       a live object of another owner is rejected ({@code NOT_OWNER}: a hand-over raises the
 *       epoch).
 * </ol>
 *
 * A withdrawal ({@link Operation#WITHDRAW}: this node may no longer hold the object) is ordered
 * as a deletion, and is already current for an object this node does not hold (never had, or a
 * tombstone): there is nothing to remove, and nothing is recorded of an object never held.
 *
 * <p>A change claiming this node as owner never gets here: {@link ChangeValidator} rejects it.
 */
public final class StateOrdering {
  private StateOrdering() {}

  /** What to do with a received change. */
  public enum Verdict {
    /** Write the change: it is newer than what this node holds. */
    APPLY,
    /** This node holds this state or a later one: nothing to write, nothing to retry. */
    ALREADY_CURRENT,
    /** The change may not replace the known state; the sender is told why. */
    REJECT
  }

  /**
   * A decision with its explanation.
   *
   * @param reason the rejection reason, null unless {@link Verdict#REJECT}
   * @param message why (the rejection's message, or a line for the debug log), null for APPLY
   */
  public record Decision(Verdict verdict, RejectReason reason, String message) {
    private static final Decision APPLY = new Decision(Verdict.APPLY, null, null);

    static Decision current(String why) {
      return new Decision(Verdict.ALREADY_CURRENT, null, why);
    }

    static Decision reject(String why) {
      return new Decision(Verdict.REJECT, RejectReason.NOT_OWNER, why);
    }
  }

  /**
   * Orders a received change against the object's known row.
   *
   * @param self this node's name
   * @param key the object's key ({@code entity#id}), for messages
   * @param known the object's bookkeeping row (also of a tombstone), or null when never seen
   */
  public static Decision decide(String self, String key, ObjectRow known, Change change) {
    boolean withdrawal = change.getOperation() == Operation.WITHDRAW;
    if (known == null) {
      return withdrawal ? Decision.current("Node '%s' does not hold %s: nothing to withdraw".formatted(self, key))
          : Decision.APPLY;
    }
    long epoch = change.getEpoch();
    if (epoch < known.epoch()) {
      return Decision.current("Node '%s' has %s at ownership epoch %d (received %d from '%s')"
          .formatted(self, key, known.epoch(), epoch, change.getOwner()));
    }
    if (epoch > known.epoch()) {
      // a later owner: only the node this node handed the object to may take over its own object
      if (known.owner().equals(self) && !change.getOwner().equals(known.handoverTo())) {
        return Decision.reject(("%s is owned by this node ('%s') and was not handed over to '%s'; its "
            + "epoch %d cannot replace epoch %d").formatted(key, self, change.getOwner(), epoch, known.epoch()));
      }
      if (withdrawal && known.deleted()) {
        return Decision.current("Node '%s' does not hold %s any more: nothing to withdraw".formatted(self, key));
      }
      // signed state: the chain of hand-overs (verified link by link before) must pass through the
      // owner this node knows, at the epoch it knows, or it is another history of the object
      if (change.getHandoversCount() > known.epoch() && !known.deleted()
          && !change.getHandovers((int) known.epoch()).getOwner().equals(known.owner())) {
        return new Decision(Verdict.REJECT, RejectReason.SIGNATURE, ("%s is owned by '%s' at epoch %d; the hand-over "
            + "at that epoch in the change from '%s' is by '%s': no hand-over of its owner leads to '%s'").formatted(
            key, known.owner(), known.epoch(), change.getOwner(), change.getHandovers((int) known.epoch()).getOwner(),
            change.getOwner()));
      }
      return Decision.APPLY;
    }
    if (known.owner().equals(self)) {
      return Decision.reject(("%s is owned by this node ('%s'); a change claiming owner '%s' cannot "
          + "overwrite it").formatted(key, self, change.getOwner()));
    }
    if (withdrawal && known.deleted()) {
      return Decision.current("Node '%s' does not hold %s any more: nothing to withdraw".formatted(self, key));
    }
    boolean restores = known.deleted() && known.serial() == change.getSerial()
        && change.getOperation() == Operation.UPSERT;
    if (known.owner().equals(change.getOwner()) && known.serial() >= change.getSerial() && !restores) {
      return Decision.current("Node '%s' already has %s at serial %d (received %d)"
          .formatted(self, key, known.serial(), change.getSerial()));
    }
    if (!known.owner().equals(change.getOwner()) && !known.deleted()) {
      return Decision.reject(("%s is owned by '%s'; a change from '%s' cannot take it over (a hand-over "
          + "raises the ownership epoch, this change keeps epoch %d)").formatted(key, known.owner(),
          change.getOwner(), epoch));
    }
    return Decision.APPLY;
  }

  /**
   * The bookkeeping row an applied change leaves: its owner, serial and epoch; a tombstone for a
   * delete; the pending hand-over it announces (never on a tombstone).
   */
  public static ObjectRow rowAfter(String entity, String idText, Change change) {
    // a withdrawal leaves a tombstone at its serial, as a sweep does: the same state sent again restores it
    boolean delete = change.getOperation() != Operation.UPSERT;
    return new ObjectRow(entity, idText, change.getOwner(), change.getSerial(), delete, change.getEpoch(),
        delete || change.getHandoverTo().isEmpty() ? null : change.getHandoverTo());
  }
}
