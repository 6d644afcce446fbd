package dev.entanglement.hibernate.internal.model;

import com.google.protobuf.ByteString;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.MonthDay;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.Year;
import java.time.YearMonth;
import java.time.ZonedDateTime;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;

/**
 * Converts one basic Java type to and from its wire {@link Value}. Immutable; one instance per
 * attribute, built at boot.
 */
public final class ScalarCodec {

  /** The kinds a value of each supported Java type travels as. */
  private enum Kind { TEXT, INTEGER, REAL, BOOLEAN, BINARY, DECIMAL, UUID, TEMPORAL, ENUM }

  private static final Map<Class<?>, Function<String, Object>> TEMPORALS = Map.ofEntries(
      Map.entry(Instant.class, Instant::parse),
      Map.entry(LocalDate.class, LocalDate::parse),
      Map.entry(LocalTime.class, LocalTime::parse),
      Map.entry(LocalDateTime.class, LocalDateTime::parse),
      Map.entry(OffsetDateTime.class, OffsetDateTime::parse),
      Map.entry(OffsetTime.class, OffsetTime::parse),
      Map.entry(ZonedDateTime.class, ZonedDateTime::parse),
      Map.entry(Duration.class, Duration::parse),
      Map.entry(Year.class, Year::parse),
      Map.entry(YearMonth.class, YearMonth::parse),
      Map.entry(MonthDay.class, MonthDay::parse));

  private final Class<?> javaType;
  private final Kind kind;
  private final boolean primitive;
  private final String typeName;

  private ScalarCodec(Class<?> javaType, Kind kind, boolean primitive, String typeName) {
    this.javaType = javaType;
    this.kind = kind;
    this.primitive = primitive;
    this.typeName = typeName;
  }

  /** The codec for a Java type, or null when the type is not supported. */
  public static ScalarCodec forType(Class<?> type) {
    boolean primitive = type.isPrimitive();
    Class<?> boxed = box(type);
    Kind kind;
    if (boxed == String.class || boxed == Character.class) {
      kind = Kind.TEXT;
    } else if (boxed == Long.class || boxed == Integer.class || boxed == Short.class
        || boxed == Byte.class) {
      kind = Kind.INTEGER;
    } else if (boxed == Double.class || boxed == Float.class) {
      kind = Kind.REAL;
    } else if (boxed == Boolean.class) {
      kind = Kind.BOOLEAN;
    } else if (boxed == byte[].class) {
      kind = Kind.BINARY;
    } else if (boxed == BigDecimal.class || boxed == BigInteger.class) {
      kind = Kind.DECIMAL;
    } else if (boxed == UUID.class) {
      kind = Kind.UUID;
    } else if (TEMPORALS.containsKey(boxed)) {
      kind = Kind.TEMPORAL;
    } else if (boxed.isEnum()) {
      kind = Kind.ENUM;
    } else {
      return null;
    }
    return new ScalarCodec(boxed, kind, primitive, type.getSimpleName());
  }

  /** Names the supported types, for boot error messages. */
  public static String supportedTypes() {
    return "String, char, the integer and floating-point types, boolean, byte[], BigDecimal, "
        + "BigInteger, UUID, enums and the java.time types (Instant, LocalDate, LocalTime, "
        + "LocalDateTime, OffsetDateTime, OffsetTime, ZonedDateTime, Duration, Year, YearMonth, "
        + "MonthDay)";
  }

  public Class<?> javaType() {
    return javaType;
  }

  public Value encode(Object value) {
    if (value == null) {
      return Values.NULL;
    }
    Value.Builder b = Value.newBuilder();
    switch (kind) {
      case TEXT -> b.setText(value.toString());
      case INTEGER -> b.setInteger(((Number) value).longValue());
      case REAL -> b.setReal(((Number) value).doubleValue());
      case BOOLEAN -> b.setBoolean((Boolean) value);
      case BINARY -> b.setBinary(ByteString.copyFrom((byte[]) value));
      case DECIMAL -> b.setDecimal(value.toString());
      case UUID -> b.setUuid(value.toString());
      case TEMPORAL -> b.setTemporal(value.toString());
      case ENUM -> b.setEnumConstant(((Enum<?>) value).name());
      default -> throw new IllegalStateException(kind.name());
    }
    return b.build();
  }

  /**
   * Reads the text form ({@code toString()}) of a value back, as stored in the plugin's tables
   * for identifiers.
   *
   * @throws IllegalArgumentException if the text is not a value of this type
   */
  public Object parseText(String text) {
    return switch (kind) {
      case TEXT -> javaType == Character.class ? (Object) text.charAt(0) : text;
      case INTEGER -> {
        long v = Long.parseLong(text);
        if (javaType == Integer.class) {
          yield (int) v;
        }
        yield javaType == Short.class ? (Object) (short) v : javaType == Byte.class ? (Object) (byte) v : (Object) v;
      }
      case REAL -> javaType == Float.class ? (Object) Float.parseFloat(text) : (Object) Double.parseDouble(text);
      case BOOLEAN -> Boolean.parseBoolean(text);
      case DECIMAL -> javaType == BigInteger.class ? new BigInteger(text) : new BigDecimal(text);
      case UUID -> java.util.UUID.fromString(text);
      case TEMPORAL -> TEMPORALS.get(javaType).apply(text);
      case ENUM -> {
        @SuppressWarnings({"unchecked", "rawtypes"})
        Object constant = Enum.valueOf((Class) javaType, text);
        yield constant;
      }
      case BINARY -> throw new IllegalArgumentException("binary values have no text form");
    };
  }

  /** Whether values of this type can serve as identifiers (they have a text form). */
  public boolean usableAsId() {
    return kind != Kind.BINARY;
  }

  /**
   * Reads a wire value as this codec's Java type.
   *
   * @param what names the attribute for messages, e.g. {@code Item.count}
   */
  public Object decode(Value value, String what) throws DecodeException {
    if (value.getKindCase() == Value.KindCase.NULL || value.getKindCase() == Value.KindCase.KIND_NOT_SET) {
      if (primitive) {
        throw new DecodeException(RejectReason.WRONG_TYPE,
            "%s is a primitive %s and cannot be null".formatted(what, typeName));
      }
      return null;
    }
    try {
      return switch (kind) {
        case TEXT -> {
          String text = expect(value, Value.KindCase.TEXT, what).getText();
          if (javaType == Character.class) {
            if (text.length() != 1) {
              throw new DecodeException(RejectReason.WRONG_TYPE,
                  "%s expects a single character, got %d characters".formatted(what, text.length()));
            }
            yield text.charAt(0);
          }
          yield text;
        }
        case INTEGER -> narrow(expect(value, Value.KindCase.INTEGER, what).getInteger(), what);
        case REAL -> {
          double d = expect(value, Value.KindCase.REAL, what).getReal();
          yield javaType == Float.class ? (Object) (float) d : (Object) d;
        }
        case BOOLEAN -> expect(value, Value.KindCase.BOOLEAN, what).getBoolean();
        case BINARY -> expect(value, Value.KindCase.BINARY, what).getBinary().toByteArray();
        case DECIMAL -> {
          String text = expect(value, Value.KindCase.DECIMAL, what).getDecimal();
          yield javaType == BigInteger.class ? new BigInteger(text) : new BigDecimal(text);
        }
        case UUID -> java.util.UUID.fromString(expect(value, Value.KindCase.UUID, what).getUuid());
        case TEMPORAL ->
            TEMPORALS.get(javaType).apply(expect(value, Value.KindCase.TEMPORAL, what).getTemporal());
        case ENUM -> enumConstant(expect(value, Value.KindCase.ENUM_CONSTANT, what).getEnumConstant(), what);
      };
    } catch (NumberFormatException | DateTimeParseException e) {
      throw new DecodeException(RejectReason.WRONG_TYPE,
          "%s expects a %s, got unreadable %s '%s'".formatted(
              what, typeName, Values.describeKind(value), Values.shortText(value)));
    } catch (IllegalArgumentException e) { // UUID.fromString
      throw new DecodeException(RejectReason.WRONG_TYPE,
          "%s expects a UUID, got '%s'".formatted(what, Values.shortText(value)));
    }
  }

  private Value expect(Value value, Value.KindCase expected, String what) throws DecodeException {
    if (value.getKindCase() != expected) {
      throw new DecodeException(RejectReason.WRONG_TYPE,
          "%s expects %s (%s), got %s".formatted(what, Values.describeKind(expected),
              typeName, Values.describeKind(value)));
    }
    return value;
  }

  private Object narrow(long v, String what) throws DecodeException {
    long min;
    long max;
    if (javaType == Integer.class) {
      min = Integer.MIN_VALUE;
      max = Integer.MAX_VALUE;
    } else if (javaType == Short.class) {
      min = Short.MIN_VALUE;
      max = Short.MAX_VALUE;
    } else if (javaType == Byte.class) {
      min = Byte.MIN_VALUE;
      max = Byte.MAX_VALUE;
    } else {
      return v;
    }
    if (v < min || v > max) {
      throw new DecodeException(RejectReason.WRONG_TYPE,
          "%s is a %s; %d is out of its range".formatted(what, typeName, v));
    }
    if (javaType == Integer.class) {
      return (int) v;
    }
    return javaType == Short.class ? (Object) (short) v : (Object) (byte) v;
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private Object enumConstant(String name, String what) throws DecodeException {
    try {
      return Enum.valueOf((Class) javaType, name);
    } catch (IllegalArgumentException e) {
      throw new DecodeException(RejectReason.WRONG_TYPE,
          "%s has no constant %s in %s".formatted(what, name, javaType.getSimpleName()));
    }
  }

  private static Class<?> box(Class<?> type) {
    if (!type.isPrimitive()) {
      return type;
    }
    if (type == int.class) {
      return Integer.class;
    } else if (type == long.class) {
      return Long.class;
    } else if (type == short.class) {
      return Short.class;
    } else if (type == byte.class) {
      return Byte.class;
    } else if (type == double.class) {
      return Double.class;
    } else if (type == float.class) {
      return Float.class;
    } else if (type == boolean.class) {
      return Boolean.class;
    } else if (type == char.class) {
      return Character.class;
    }
    return type;
  }
}
