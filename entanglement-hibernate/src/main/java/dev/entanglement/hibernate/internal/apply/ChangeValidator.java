package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;

/**
 * Validates a received change against the model and this node's identity, before any database
 * work: an entity, an id, an owner and an operation are present, the entity is one of this node's
 * {@code @Entangled} entities, and the change does not claim to be this node's own. Attributes
 * are checked later, while decoding them into the entity (their problems park the change).
 *
 * <p>Immutable, so thread-safe.
 */
final class ChangeValidator {
  private final EntangledModel model;
  private final String nodeName;

  ChangeValidator(EntangledModel model, String nodeName) {
    this.model = model;
    this.nodeName = nodeName;
  }

  /** Checks what can be checked without the database. */
  void check(Change change) throws DecodeException {
    if (change.getEntity().isEmpty()) {
      throw new DecodeException(RejectReason.MALFORMED, "change without an entity name");
    }
    if (!change.hasId() || change.getId().getKindCase() == Value.KindCase.KIND_NOT_SET
        || change.getId().getKindCase() == Value.KindCase.NULL) {
      throw new DecodeException(RejectReason.MALFORMED, "change of " + change.getEntity() + " without an id");
    }
    if (change.getOwner().isEmpty()) {
      throw new DecodeException(RejectReason.MALFORMED, "change of " + change.getEntity() + " without an owner");
    }
    if (change.getOperation() != Operation.UPSERT && change.getOperation() != Operation.DELETE) {
      throw new DecodeException(RejectReason.MALFORMED, "change of %s with operation %s; expected UPSERT or DELETE"
          .formatted(change.getEntity(), change.getOperation()));
    }
    if (model.byName(change.getEntity()) == null) {
      throw new DecodeException(RejectReason.UNKNOWN_ENTITY,
          "this node has no @Entangled entity named '%s'".formatted(change.getEntity()));
    }
    if (change.getOwner().equals(nodeName)) {
      throw new DecodeException(RejectReason.NOT_OWNER, ("the change claims owner '%s', which is "
          + "this node: only this node decides the state of its own objects").formatted(nodeName));
    }
  }

  /** The key {@code entity#id} of a change, or null when it cannot be read. */
  String objectKey(Change change) {
    // an ephemeral type may have an entity's name at the sender: it is never one of these objects
    EntangledType type = change.getEphemeral() ? null : model.byName(change.getEntity());
    if (type == null) {
      return null;
    }
    try {
      Object id = type.idCodec().decode(change.getId(), "id");
      return id == null ? null : type.key(type.idText(id));
    } catch (DecodeException e) {
      return null;
    }
  }
}
