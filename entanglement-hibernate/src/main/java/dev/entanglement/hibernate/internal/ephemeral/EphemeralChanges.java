package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.hibernate.internal.model.Values;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import java.util.List;

/**
 * The wire form of ephemeral objects: builds their changes and outcomes, checks a received
 * change's shape, and orders states by (incarnation, serial). Stateless.
 */
final class EphemeralChanges {
  static final Outcome ALREADY_CURRENT = Outcome.newBuilder().setStatus(OutcomeStatus.ALREADY_CURRENT).build();
  static final Outcome APPLIED = Outcome.newBuilder().setStatus(OutcomeStatus.APPLIED).build();

  private EphemeralChanges() {}

  /** The state of an object put by its owner. */
  static Change upsert(String type, String id, String owner, long incarnation, long serial, List<Attribute> attributes,
      long ttlMillis) {
    return Change.newBuilder().setEphemeral(true).setEntity(type).setId(textId(id)).setOwner(owner)
        .setEpoch(incarnation).setSerial(serial).setOperation(Operation.UPSERT).addAllAttributes(attributes)
        .setTtlMs(Math.max(0, ttlMillis)).build();
  }

  /** A removal by the owner, or (with {@code pathLost}) a notice that the way to the owner is lost. */
  static Change removal(String type, String id, String owner, long incarnation, long serial, boolean pathLost) {
    return Change.newBuilder().setEphemeral(true).setEntity(type).setId(textId(id)).setOwner(owner)
        .setEpoch(incarnation).setSerial(serial).setOperation(Operation.DELETE).setEphemeralPathLost(pathLost).build();
  }

  /** Positive if the first state is newer, zero if it is the same, negative if older. */
  static int compare(long incarnation, long serial, long otherIncarnation, long otherSerial) {
    int byIncarnation = Long.compare(incarnation, otherIncarnation);
    return byIncarnation != 0 ? byIncarnation : Long.compare(serial, otherSerial);
  }

  /** What is wrong with the shape of a received change, or null. */
  static String malformed(Change change) {
    if (change.getEntity().isEmpty()) {
      return "ephemeral object without a type";
    }
    if (change.getId().getKindCase() != Value.KindCase.TEXT || change.getId().getText().isEmpty()) {
      return "ephemeral %s without an id (ephemeral ids are non-empty text, got %s)"
          .formatted(change.getEntity(), Values.describeKind(change.getId()));
    }
    if (change.getOwner().isEmpty()) {
      return "ephemeral %s '%s' without an owner".formatted(change.getEntity(), change.getId().getText());
    }
    if (change.getOperation() != Operation.UPSERT && change.getOperation() != Operation.DELETE
        && change.getOperation() != Operation.WITHDRAW) {
      return "ephemeral %s '%s' with operation %s; expected UPSERT, DELETE or WITHDRAW"
          .formatted(change.getEntity(), change.getId().getText(), change.getOperation());
    }
    return null;
  }

  static Outcome rejected(RejectReason reason, String message) {
    return Outcome.newBuilder().setStatus(OutcomeStatus.REJECTED).setReason(reason).setMessage(message).build();
  }

  private static Value textId(String id) {
    return Value.newBuilder().setText(id).build();
  }
}
