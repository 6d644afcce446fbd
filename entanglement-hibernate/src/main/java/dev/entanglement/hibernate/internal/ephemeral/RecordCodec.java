package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import com.google.protobuf.ByteString;
import dev.entanglement.hibernate.internal.model.DecodeException;
import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Encodes the components of a record type as wire attributes and builds records back from them.
 * The supported component types are checked once, when the type is registered. Immutable.
 */
final class RecordCodec {
  private static final Set<Class<?>> SUPPORTED = Set.of(String.class, int.class, Integer.class, long.class, Long.class,
      short.class, Short.class, byte.class, Byte.class, double.class, Double.class, float.class, Float.class,
      boolean.class, Boolean.class, UUID.class, BigDecimal.class, byte[].class, Instant.class, LocalDate.class,
      LocalDateTime.class, LocalTime.class, OffsetDateTime.class, ZonedDateTime.class, Duration.class);

  private final Class<?> type;
  private final RecordComponent[] components;
  private final Constructor<?> constructor;
  private final Map<String, Integer> indexByName = new HashMap<>();

  RecordCodec(Class<?> type) {
    if (!type.isRecord()) {
      throw new IllegalArgumentException(type.getName() + " is not a record: ephemeral types are records");
    }
    this.type = type;
    this.components = type.getRecordComponents();
    Class<?>[] parameterTypes = new Class<?>[components.length];
    for (int i = 0; i < components.length; i++) {
      Class<?> componentType = components[i].getType();
      if (!SUPPORTED.contains(componentType) && !componentType.isEnum()) {
        throw new IllegalArgumentException(("component '%s' of %s has the type %s, which ephemeral objects cannot carry; "
            + "use strings, numbers, booleans, enums, UUID, BigDecimal, byte[] or java.time values")
            .formatted(components[i].getName(), type.getName(), componentType.getName()));
      }
      parameterTypes[i] = componentType;
      indexByName.put(components[i].getName(), i);
    }
    try {
      this.constructor = type.getDeclaredConstructor(parameterTypes);
      this.constructor.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalArgumentException("the canonical constructor of " + type.getName() + " is not accessible: " + e, e);
    }
  }

  List<Attribute> encode(Object record) {
    List<Attribute> attributes = new ArrayList<>(components.length);
    for (RecordComponent component : components) {
      Object value;
      try {
        value = component.getAccessor().invoke(record);
      } catch (ReflectiveOperationException e) {
        throw new IllegalArgumentException("cannot read " + component.getName() + " of " + type.getName(), e);
      }
      attributes.add(Attribute.newBuilder().setName(component.getName()).setValue(encodeValue(value)).build());
    }
    return attributes;
  }

  private static Value encodeValue(Object value) {
    Value.Builder v = Value.newBuilder();
    if (value == null) {
      return v.setNull(true).build();
    } else if (value instanceof String s) {
      return v.setText(s).build();
    } else if (value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof Byte) {
      return v.setInteger(((Number) value).longValue()).build();
    } else if (value instanceof Double || value instanceof Float) {
      return v.setReal(((Number) value).doubleValue()).build();
    } else if (value instanceof Boolean b) {
      return v.setBoolean(b).build();
    } else if (value instanceof UUID u) {
      return v.setUuid(u.toString()).build();
    } else if (value instanceof BigDecimal d) {
      return v.setDecimal(d.toPlainString()).build();
    } else if (value instanceof byte[] bytes) {
      return v.setBinary(ByteString.copyFrom(bytes)).build();
    } else if (value instanceof Enum<?> e) {
      return v.setEnumConstant(e.name()).build();
    }
    return v.setTemporal(value.toString()).build();
  }

  Object decode(List<Attribute> attributes) throws DecodeException {
    Object[] arguments = new Object[components.length];
    for (int i = 0; i < components.length; i++) {
      arguments[i] = defaultFor(components[i].getType());
    }
    for (Attribute attribute : attributes) {
      Integer index = indexByName.get(attribute.getName());
      if (index == null) {
        throw new DecodeException(RejectReason.UNKNOWN_ATTRIBUTE, "ephemeral type %s has no component '%s'"
            .formatted(type.getSimpleName(), attribute.getName()));
      }
      arguments[index] = decodeValue(attribute.getValue(), components[index].getType(),
          type.getSimpleName() + "." + attribute.getName());
    }
    try {
      return constructor.newInstance(arguments);
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new DecodeException(RejectReason.WRONG_TYPE, "cannot build a " + type.getSimpleName() + ": " + e);
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static Object decodeValue(Value value, Class<?> target, String where) throws DecodeException {
    try {
      if (value.getKindCase() == Value.KindCase.NULL) {
        if (target.isPrimitive()) {
          throw new DecodeException(RejectReason.WRONG_TYPE, where + " cannot be null");
        }
        return null;
      }
      if (target == String.class && value.hasText()) {
        return value.getText();
      }
      if ((target == int.class || target == Integer.class) && value.hasInteger()) {
        return Math.toIntExact(value.getInteger());
      }
      if ((target == long.class || target == Long.class) && value.hasInteger()) {
        return value.getInteger();
      }
      if ((target == short.class || target == Short.class) && value.hasInteger()) {
        return (short) value.getInteger();
      }
      if ((target == byte.class || target == Byte.class) && value.hasInteger()) {
        return (byte) value.getInteger();
      }
      if ((target == double.class || target == Double.class) && value.hasReal()) {
        return value.getReal();
      }
      if ((target == float.class || target == Float.class) && value.hasReal()) {
        return (float) value.getReal();
      }
      if ((target == boolean.class || target == Boolean.class) && value.hasBoolean()) {
        return value.getBoolean();
      }
      if (target == UUID.class && value.hasUuid()) {
        return UUID.fromString(value.getUuid());
      }
      if (target == BigDecimal.class && value.hasDecimal()) {
        return new BigDecimal(value.getDecimal());
      }
      if (target == byte[].class && value.hasBinary()) {
        return value.getBinary().toByteArray();
      }
      if (target.isEnum() && value.hasEnumConstant()) {
        return Enum.valueOf((Class) target, value.getEnumConstant());
      }
      if (value.hasTemporal()) {
        String text = value.getTemporal();
        if (target == Instant.class) {
          return Instant.parse(text);
        } else if (target == LocalDate.class) {
          return LocalDate.parse(text);
        } else if (target == LocalDateTime.class) {
          return LocalDateTime.parse(text);
        } else if (target == LocalTime.class) {
          return LocalTime.parse(text);
        } else if (target == OffsetDateTime.class) {
          return OffsetDateTime.parse(text);
        } else if (target == ZonedDateTime.class) {
          return ZonedDateTime.parse(text);
        } else if (target == Duration.class) {
          return Duration.parse(text);
        }
      }
    } catch (ArithmeticException | IllegalArgumentException | java.time.DateTimeException e) {
      throw new DecodeException(RejectReason.WRONG_TYPE, "%s: %s".formatted(where, e.getMessage()));
    }
    throw new DecodeException(RejectReason.WRONG_TYPE, "%s is a %s; received a %s value"
        .formatted(where, target.getSimpleName(), value.getKindCase()));
  }

  private static Object defaultFor(Class<?> type) {
    if (!type.isPrimitive()) {
      return null;
    } else if (type == boolean.class) {
      return false;
    } else if (type == double.class) {
      return 0.0;
    } else if (type == float.class) {
      return 0.0f;
    } else if (type == long.class) {
      return 0L;
    } else if (type == short.class) {
      return (short) 0;
    } else if (type == byte.class) {
      return (byte) 0;
    }
    return 0;
  }
}
