package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.model.Values;
import dev.entanglement.hibernate.internal.store.SqlErrors;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import org.jboss.logging.Logger;

/**
 * Builds the answers of the apply path: one outcome per change and the Ack of a batch, logging
 * each rejection the sender is told of (policy denials excepted: the policies decide their own
 * logging). Stateless.
 */
final class Outcomes {
  private static final Logger LOG = Logger.getLogger(InboundApplier.class);

  private Outcomes() {}

  private static String truncated(String message) {
    return message.length() <= 300 ? message : message.substring(0, 297) + "... (" + message.length() + " characters)";
  }

  static Outcome applied(int index) {
    return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.APPLIED).build();
  }

  /** A state this node held by its bookkeeping, whose row was missing or differed and was rewritten. */
  static Outcome repaired(int index, String what) {
    return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.APPLIED).setRepaired(true)
        .setMessage(truncated(what)).build();
  }

  static Outcome alreadyCurrent(int index) {
    return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.ALREADY_CURRENT).build();
  }

  static Outcome rejected(int index, RejectReason reason, String message) {
    return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.REJECTED)
        .setReason(reason).setMessage(message).build();
  }

  /** The rejection of a change the database refused: its constraint's message, else an internal error. */
  static Outcome databaseRejection(int index, Change change, Exception e) {
    String message = SqlErrors.message(e);
    if (message != null) {
      return rejected(index, RejectReason.CONSTRAINT_VIOLATION,
          "the database refused %s: %s".formatted(change.getEntity(), message));
    }
    LOG.errorf(e, "Could not apply a change of %s", change.getEntity());
    return rejected(index, RejectReason.INTERNAL, "internal error at the receiver: " + e);
  }

  /**
   * The Ack of a batch, with every outcome in order; rejections are logged through
   * {@code rejections} (once per peer and reason a minute at WARN, the rest at DEBUG).
   */
  static Ack ack(String peer, ChangeBatch batch, Outcome[] outcomes, LimitedLog rejections) {
    Ack.Builder ack = Ack.newBuilder().setRequestId(batch.getRequestId());
    for (Outcome outcome : outcomes) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED && outcome.getReason() != RejectReason.POLICY) {
        Change change = batch.getChanges(outcome.getIndex());
        rejections.warn(peer + '|' + outcome.getReason(), "Rejected a change from peer '%s' of %s#%s (%s): %s"
            .formatted(peer, ChangeValidator.shown(change.getEntity()), ChangeValidator.shown(Values.shortText(change.getId())),
                outcome.getReason(), truncated(outcome.getMessage())));
      }
      ack.addOutcomes(outcome);
    }
    return ack.build();
  }
}
