package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.core.NodeNames;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.OwnerPosition;
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
  private static final String NODE_NAME_RULE = NodeNames.RULE;
  /** The highest serial a position may name: far beyond any real node, far from overflowing. */
  static final long MAX_SERIAL = 1L << 53;
  /** Object ids as the bookkeeping stores them ({@code VARCHAR(255)}). */
  static final int MAX_ID_LENGTH = 255;
  /**
   * How deep values may nest (an embeddable in an embeddable, a reference's id), checked before
   * decoding. Far beyond real models; below protobuf's parse limit (100 message levels, about 32
   * embeddables deep), so deeper values are refused here in-band, not by the parser.
   */
  static final int MAX_VALUE_DEPTH = 16;
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
      throw new DecodeException(RejectReason.MALFORMED, "change of " + brief(change.getEntity()) + " without an id");
    }
    if (change.getOwner().isEmpty()) {
      throw new DecodeException(RejectReason.MALFORMED, "change of " + brief(change.getEntity()) + " without an owner");
    }
    if (!NodeNames.valid(change.getOwner())) {
      throw new DecodeException(RejectReason.MALFORMED, "change of %s with the owner name %s; expected %s"
          .formatted(brief(change.getEntity()), shown(change.getOwner()), NODE_NAME_RULE));
    }
    if (!change.getHandoverTo().isEmpty() && !NodeNames.valid(change.getHandoverTo())) {
      throw new DecodeException(RejectReason.MALFORMED, "change of %s handed over to %s; expected %s"
          .formatted(brief(change.getEntity()), shown(change.getHandoverTo()), NODE_NAME_RULE));
    }
    if (change.getOperation() != Operation.UPSERT && change.getOperation() != Operation.DELETE
        && change.getOperation() != Operation.WITHDRAW) {
      throw new DecodeException(RejectReason.MALFORMED, "change of %s with operation %s; expected UPSERT, DELETE or WITHDRAW"
          .formatted(brief(change.getEntity()), change.getOperation()));
    }
    if (tooDeep(change.getId(), 1) || change.getAttributesList().stream().anyMatch(a -> tooDeep(a.getValue(), 1))) {
      throw new DecodeException(RejectReason.MALFORMED, ("change of %s with a value nested more than %d levels deep "
          + "(embeddables, references); expected at most %d").formatted(brief(change.getEntity()), MAX_VALUE_DEPTH,
          MAX_VALUE_DEPTH));
    }
    if (model.byName(change.getEntity()) == null) {
      throw new DecodeException(RejectReason.UNKNOWN_ENTITY,
          "this node has no @Entangled entity named %s".formatted(shown(change.getEntity())));
    }
    EntangledType type = model.byName(change.getEntity());
    Object id = type.idCodec().decode(change.getId(), type.name() + " id");
    String idText = id == null ? null : type.idText(id);
    if (idText == null || idText.length() > MAX_ID_LENGTH) {
      throw new DecodeException(RejectReason.MALFORMED, "change of %s with the id %s; expected at most %d characters"
          .formatted(brief(change.getEntity()), idText == null ? "null" : shown(idText), MAX_ID_LENGTH));
    }
    if (change.getOwner().equals(nodeName)) {
      throw new DecodeException(RejectReason.NOT_OWNER, ("the change claims owner '%s', which is "
          + "this node: only this node decides the state of its own objects").formatted(nodeName));
    }
  }

  /** Whether a value nests deeper than {@link #MAX_VALUE_DEPTH}; recursion bounded by it. */
  private static boolean tooDeep(Value value, int depth) {
    if (depth > MAX_VALUE_DEPTH) {
      return true;
    }
    return switch (value.getKindCase()) {
      case COMPOSITE -> value.getComposite().getAttributesList().stream().anyMatch(a -> tooDeep(a.getValue(), depth + 1));
      case REFERENCE -> tooDeep(value.getReference().getId(), depth + 1);
      case ELEMENTS -> value.getElements().getElementsList().stream().anyMatch(v -> tooDeep(v, depth + 1))
          || value.getElements().getKeysList().stream().anyMatch(v -> tooDeep(v, depth + 1));
      default -> false;
    };
  }

  /**
   * Why a received position cannot be stored (a forged or broken one), or null: the owner must
   * be a valid node name other than this node's, and the serial within what serials can reach.
   */
  String positionProblem(OwnerPosition position) {
    if (!NodeNames.valid(position.getOwner())) {
      return "a position of the owner name %s; expected %s".formatted(shown(position.getOwner()), NODE_NAME_RULE);
    }
    if (position.getOwner().equals(nodeName)) {
      return "a position of this node's own objects (only this node decides how far they go)";
    }
    if (position.getSerial() < 0 || position.getSerial() > MAX_SERIAL) {
      return "a position of owner '%s' at serial %d; expected 0 to %d".formatted(position.getOwner(),
          position.getSerial(), MAX_SERIAL);
    }
    return null;
  }

  /** A received value as a message may quote it: at most 64 characters, control characters escaped. */
  static String shown(String value) {
    return "'" + escapedHead(value) + "'" + lengthNote(value);
  }

  /** As {@link #shown}, without the quotes. */
  static String brief(String value) {
    return escapedHead(value) + lengthNote(value);
  }

  private static String escapedHead(String value) {
    String head = value.length() > 64 ? value.substring(0, 64) : value;
    StringBuilder shown = new StringBuilder();
    head.codePoints().forEach(c -> {
      if (Character.isISOControl(c)) {
        shown.append("\\u%04x".formatted(c));
      } else {
        shown.appendCodePoint(c);
      }
    });
    return shown.toString();
  }

  private static String lengthNote(String value) {
    return value.length() > 64 ? " (" + value.length() + " characters)" : "";
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
