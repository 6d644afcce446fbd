package dev.entanglement.hibernate.internal.model;

import dev.entanglement.proto.v1.Value;

/** Small helpers for wire values in messages. */
public final class Values {
  public static final Value NULL = Value.newBuilder().setNull(true).build();

  private Values() {}

  public static String describeKind(Value value) {
    return describeKind(value.getKindCase());
  }

  public static String describeKind(Value.KindCase kind) {
    return switch (kind) {
      case NULL -> "null";
      case TEXT -> "text";
      case INTEGER -> "an integer";
      case REAL -> "a real number";
      case BOOLEAN -> "a boolean";
      case BINARY -> "binary";
      case DECIMAL -> "a decimal";
      case UUID -> "a UUID";
      case TEMPORAL -> "a date/time";
      case ENUM_CONSTANT -> "an enum constant";
      case COMPOSITE -> "an embeddable";
      case REFERENCE -> "a reference";
      case ELEMENTS -> "a collection";
      case KIND_NOT_SET -> "no value";
    };
  }

  /** The value as short text for messages (never more than 60 characters). */
  public static String shortText(Value value) {
    String text = switch (value.getKindCase()) {
      case TEXT -> value.getText();
      case INTEGER -> Long.toString(value.getInteger());
      case REAL -> Double.toString(value.getReal());
      case BOOLEAN -> Boolean.toString(value.getBoolean());
      case BINARY -> value.getBinary().size() + " bytes";
      case DECIMAL -> value.getDecimal();
      case UUID -> value.getUuid();
      case TEMPORAL -> value.getTemporal();
      case ENUM_CONSTANT -> value.getEnumConstant();
      case REFERENCE -> value.getReference().getEntity() + "#" + shortText(value.getReference().getId());
      case ELEMENTS -> value.getElements().getElementsCount() + " elements";
      default -> describeKind(value);
    };
    return text.length() > 60 ? text.substring(0, 57) + "..." : text;
  }
}
