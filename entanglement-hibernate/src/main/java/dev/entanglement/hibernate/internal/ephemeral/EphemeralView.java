package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.hibernate.EphemeralObjects;
import dev.entanglement.proto.v1.Attribute;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The application's typed view of one registered ephemeral type ({@link EphemeralObjects}):
 * checks its arguments, encodes and casts records, and reads and writes the shared
 * {@link EphemeralTable} under the store's lock.
 *
 * <h2>Concurrency</h2>
 * Thread-safe. Stateless apart from final references; the table is only touched while holding
 * {@code lock}; listeners are kept by the {@link EphemeralFanout}.
 */
final class EphemeralView<T> implements EphemeralObjects<T> {
  private final EphemeralTypes.Type<T> type;
  private final Object lock;
  private final EphemeralTable<?> table;
  private final EphemeralFanout fanout;

  EphemeralView(EphemeralTypes.Type<T> type, Object lock, EphemeralTable<?> table, EphemeralFanout fanout) {
    this.type = type;
    this.lock = lock;
    this.table = table;
    this.fanout = fanout;
  }

  @Override
  public void put(String id, T value) {
    if (id == null || id.isEmpty()) {
      throw new IllegalArgumentException("an ephemeral %s needs a non-empty id, got %s"
          .formatted(type.name(), id == null ? "null" : "''"));
    }
    if (!type.javaType().isInstance(value)) {
      throw new IllegalArgumentException("ephemeral %s '%s': expected a %s, got %s (use remove(id) to remove it)"
          .formatted(type.name(), id, type.javaType().getName(), value == null ? "null" : value.getClass().getName()));
    }
    List<Attribute> attributes = type.codec().encode(value);
    synchronized (lock) {
      table.put(type.name(), id, value, attributes, type.ttlMillis());
    }
  }

  @Override
  public boolean remove(String id) {
    synchronized (lock) {
      return table.remove(type.name(), id);
    }
  }

  @Override
  public Optional<T> get(String id) {
    Object value;
    synchronized (lock) {
      value = table.value(type.name(), id);
    }
    return Optional.ofNullable(type.javaType().cast(value));
  }

  @Override
  public Map<String, T> all() {
    Map<String, Object> values;
    synchronized (lock) {
      values = table.values(type.name());
    }
    Map<String, T> all = new LinkedHashMap<>();
    values.forEach((id, value) -> all.put(id, type.javaType().cast(value)));
    return all;
  }

  @Override
  public Optional<String> ownerOf(String id) {
    synchronized (lock) {
      return Optional.ofNullable(table.owner(type.name(), id));
    }
  }

  @Override
  public void subscribe(Listener<T> listener) {
    fanout.subscribe(type.name(), Objects.requireNonNull(listener, "listener"));
  }

  @Override
  public void unsubscribe(Listener<T> listener) {
    fanout.unsubscribe(type.name(), listener);
  }
}
