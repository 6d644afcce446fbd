package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.ScalarCodec;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.RejectReason;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Encodes the components of a record type as wire attributes and builds records back from them,
 * one {@link ScalarCodec} per component: the same values, checks and messages as entity
 * attributes. The component types are checked once, when the type is registered. Immutable.
 */
final class RecordCodec {
  private final Class<?> type;
  private final RecordComponent[] components;
  private final ScalarCodec[] codecs;
  private final Constructor<?> constructor;
  private final Map<String, Integer> indexByName = new HashMap<>();

  /** @throws IllegalArgumentException naming the component when the type cannot be carried */
  RecordCodec(Class<?> type) {
    if (!type.isRecord()) {
      throw new IllegalArgumentException(type.getName() + " is not a record: ephemeral types are records");
    }
    this.type = type;
    this.components = type.getRecordComponents();
    this.codecs = new ScalarCodec[components.length];
    Class<?>[] parameterTypes = new Class<?>[components.length];
    for (int i = 0; i < components.length; i++) {
      Class<?> componentType = components[i].getType();
      codecs[i] = ScalarCodec.forType(componentType);
      if (codecs[i] == null) {
        throw new IllegalArgumentException(("component '%s' of %s has the type %s, which ephemeral objects cannot "
            + "carry; expected one of %s").formatted(components[i].getName(), type.getName(), componentType.getName(),
            ScalarCodec.supportedTypes()));
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

  /** All components, as attributes named like them. */
  List<Attribute> encode(Object record) {
    List<Attribute> attributes = new ArrayList<>(components.length);
    for (int i = 0; i < components.length; i++) {
      Object value;
      try {
        value = components[i].getAccessor().invoke(record);
      } catch (ReflectiveOperationException e) {
        throw new IllegalArgumentException("cannot read component '%s' of %s: %s".formatted(
            components[i].getName(), type.getName(), e), e);
      }
      attributes.add(Attribute.newBuilder().setName(components[i].getName()).setValue(codecs[i].encode(value)).build());
    }
    return attributes;
  }

  /**
   * A record from received attributes. A component that is not received gets its default (null,
   * 0, false): the sender has an older version of the record.
   *
   * @throws DecodeException an attribute the record does not have, a value of the wrong kind, or
   *     a value the record's constructor refuses
   */
  Object decode(List<Attribute> attributes) throws DecodeException {
    Object[] arguments = new Object[components.length];
    for (int i = 0; i < components.length; i++) {
      arguments[i] = defaultFor(components[i].getType());
    }
    for (Attribute attribute : attributes) {
      Integer index = indexByName.get(attribute.getName());
      if (index == null) {
        throw new DecodeException(RejectReason.UNKNOWN_ATTRIBUTE, "ephemeral type %s has no component '%s'; it has %s"
            .formatted(type.getSimpleName(), attribute.getName(), indexByName.keySet().stream().sorted().toList()));
      }
      arguments[index] = codecs[index].decode(attribute.getValue(), type.getSimpleName() + "." + attribute.getName());
    }
    try {
      return constructor.newInstance(arguments);
    } catch (InvocationTargetException e) {
      // the record's own validation (compact constructor) refused the values
      throw new DecodeException(RejectReason.WRONG_TYPE, "the constructor of %s refused the values: %s"
          .formatted(type.getSimpleName(), e.getCause()));
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new DecodeException(RejectReason.INTERNAL, "cannot build a " + type.getSimpleName() + ": " + e);
    }
  }

  private static Object defaultFor(Class<?> type) {
    if (!type.isPrimitive()) {
      return null;
    } else if (type == boolean.class) {
      return false;
    } else if (type == char.class) {
      return '\0';
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
