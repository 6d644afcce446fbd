package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * The record types registered as ephemeral at this node, by Java class and by wire name, each with
 * its codec and time to live; checks a registration and decodes received states.
 *
 * <h2>Concurrency</h2>
 * {@code byName} and {@code byClass} are concurrent maps, read without a lock; registrations are
 * serialized by {@code this}.
 */
final class EphemeralTypes {
  /** One registered type: its wire {@code name}, codec and time to live (null for none). */
  record Type<T>(Class<T> javaType, String name, RecordCodec codec, Duration ttl) {
    long ttlMillis() {
      return ttl == null ? 0 : ttl.toMillis();
    }

    /** The record a state carries. */
    Object decode(Change change) throws DecodeException {
      return codec.decode(change.getAttributesList());
    }
  }

  private final Map<String, Type<?>> byName = new ConcurrentHashMap<>();
  private final Map<Class<?>, Type<?>> byClass = new ConcurrentHashMap<>();
  private final Predicate<String> isEntity;

  /** @param isEntity whether an {@code @Entangled} entity has a name (which ephemeral types may not take) */
  EphemeralTypes(Predicate<String> isEntity) {
    this.isEntity = isEntity;
  }

  /**
   * Registers a record type; registering it again with the same time to live returns the same
   * registration.
   *
   * @throws IllegalArgumentException naming the type and the problem
   */
  @SuppressWarnings("unchecked")
  synchronized <T> Type<T> register(Class<T> type, Duration ttl) {
    Type<?> known = byClass.get(type);
    if (known != null) {
      if (!Objects.equals(known.ttl(), ttl)) {
        throw new IllegalArgumentException("ephemeral type %s is registered with time to live %s already, not %s"
            .formatted(type.getName(), known.ttl(), ttl));
      }
      return (Type<T>) known;
    }
    if (ttl != null && (ttl.isNegative() || ttl.isZero())) {
      throw new IllegalArgumentException("the time to live of ephemeral type %s is %s; expected a positive duration or none"
          .formatted(type.getName(), ttl));
    }
    RecordCodec codec = new RecordCodec(type);
    String name = type.getSimpleName();
    Type<?> clash = byName.get(name);
    if (clash != null) {
      throw new IllegalArgumentException("ephemeral types %s and %s have the same name '%s' on the wire; rename one"
          .formatted(clash.javaType().getName(), type.getName(), name));
    }
    if (isEntity.test(name)) {
      throw new IllegalArgumentException(("ephemeral type %s has the name '%s' on the wire, which is the name of an "
          + "@Entangled entity; rename the record").formatted(type.getName(), name));
    }
    Type<T> registered = new Type<>(type, name, codec, ttl);
    byName.put(name, registered);
    byClass.put(type, registered);
    return registered;
  }

  /** The type registered under a wire name, or null. */
  Type<?> named(String name) {
    return byName.get(name);
  }

  /** The Java type registered under a wire name, or null. */
  Class<?> javaTypeNamed(String name) {
    Type<?> registered = byName.get(name);
    return registered == null ? null : registered.javaType();
  }

  /** The record an ephemeral change carries, or null (a removal, a type not registered here, a value that does not fit). */
  Object decoded(Change change) {
    Type<?> registered = byName.get(change.getEntity());
    if (registered == null || change.getOperation() != Operation.UPSERT) {
      return null;
    }
    try {
      return registered.decode(change);
    } catch (DecodeException e) {
      return null;
    }
  }
}
