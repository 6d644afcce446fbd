package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.EphemeralObjects;
import dev.entanglement.hibernate.internal.ephemeral.EphemeralRecords;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.MemberCall;
import dev.entanglement.proto.v1.MemberEphemeralChange;
import dev.entanglement.proto.v1.MemberEphemeralPut;
import dev.entanglement.proto.v1.MemberEphemeralRemove;
import dev.entanglement.proto.v1.MemberEphemeralWatch;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jboss.logging.Logger;

/**
 * Ephemeral objects of one type on a follower. The objects live at the member holding the
 * node's links (owned by the node, flooded to the peers from there); this member keeps a mirror
 * fed by the holder's events, and the objects it put itself, which it puts again at a new
 * holder, and which the holder removes when this member goes away. Once this member takes the
 * links over, it serves the type from the node's own store.
 *
 * <h2>Concurrency</h2>
 * The mirror and this member's objects are guarded by {@code this}; listeners are called
 * outside it, in the order events arrive (one gRPC stream).
 */
final class FollowerEphemerals<T> implements EphemeralObjects<T> {
  private static final Logger LOG = Logger.getLogger(FollowerEphemerals.class);

  private record Entry(Object value, String owner) {}

  private final MemberLinkClient link;
  private final Class<T> type;
  private final Duration ttl;
  private final Map<String, T> mine = new LinkedHashMap<>();
  private final Map<String, Entry> mirror = new LinkedHashMap<>();
  private final List<Listener<T>> listeners = new CopyOnWriteArrayList<>();
  private volatile EphemeralObjects<T> local;

  FollowerEphemerals(MemberLinkClient link, Class<T> type, Duration ttl) {
    this.link = link;
    this.type = type;
    this.ttl = ttl;
    EphemeralRecords.check(type); // the type can be carried, or an IllegalArgumentException names why
  }

  String typeName() {
    return type.getName();
  }

  Class<T> type() {
    return type;
  }

  Duration timeToLive() {
    return ttl;
  }

  private long ttlMillis() {
    return ttl == null ? 0 : ttl.toMillis();
  }

  @Override
  public void put(String id, T value) {
    EphemeralObjects<T> served = local;
    if (served != null) {
      served.put(id, value);
      return;
    }
    if (id == null || id.isEmpty()) {
      throw new IllegalArgumentException("an ephemeral %s needs a non-empty id, got %s"
          .formatted(type.getSimpleName(), id == null ? "null" : "''"));
    }
    if (!type.isInstance(value)) {
      throw new IllegalArgumentException("ephemeral %s '%s': expected a %s, got %s (use remove(id) to remove it)"
          .formatted(type.getSimpleName(), id, type.getName(), value == null ? "null" : value.getClass().getName()));
    }
    List<Attribute> attributes = EphemeralRecords.encode(value);
    synchronized (this) {
      mine.put(id, value);
    }
    send(MemberCall.newBuilder().setEphemeralPut(MemberEphemeralPut.newBuilder().setType(typeName()).setId(id)
        .addAllAttributes(attributes).setTtlMs(ttlMillis())));
  }

  @Override
  public boolean remove(String id) {
    EphemeralObjects<T> served = local;
    if (served != null) {
      return served.remove(id);
    }
    boolean held;
    synchronized (this) {
      held = mine.remove(id) != null | mirror.containsKey(id);
    }
    send(MemberCall.newBuilder().setEphemeralRemove(MemberEphemeralRemove.newBuilder().setType(typeName()).setId(id)
        .setTtlMs(ttlMillis())));
    return held;
  }

  @Override
  public Optional<T> get(String id) {
    EphemeralObjects<T> served = local;
    if (served != null) {
      return served.get(id);
    }
    synchronized (this) {
      Entry entry = mirror.get(id);
      return entry != null ? Optional.of(type.cast(entry.value())) : Optional.ofNullable(mine.get(id));
    }
  }

  @Override
  public Map<String, T> all() {
    EphemeralObjects<T> served = local;
    if (served != null) {
      return served.all();
    }
    Map<String, T> all = new LinkedHashMap<>();
    synchronized (this) {
      mirror.forEach((id, entry) -> all.put(id, type.cast(entry.value())));
      mine.forEach(all::putIfAbsent);
    }
    return all;
  }

  @Override
  public Optional<String> ownerOf(String id) {
    EphemeralObjects<T> served = local;
    if (served != null) {
      return served.ownerOf(id);
    }
    synchronized (this) {
      Entry entry = mirror.get(id);
      return entry != null ? Optional.of(entry.owner()) : Optional.empty();
    }
  }

  @Override
  public void subscribe(Listener<T> listener) {
    listeners.add(Objects.requireNonNull(listener, "listener"));
    EphemeralObjects<T> served = local;
    if (served != null) {
      served.subscribe(listener);
    }
  }

  @Override
  public void unsubscribe(Listener<T> listener) {
    listeners.remove(listener);
    EphemeralObjects<T> served = local;
    if (served != null) {
      served.unsubscribe(listener);
    }
  }

  /** A new stream to the holder (under the link's lock): watch the type, put this member's objects again. */
  void attached() {
    send(MemberCall.newBuilder().setEphemeralWatch(MemberEphemeralWatch.newBuilder().setType(typeName())
        .setTtlMs(ttlMillis())));
    Map<String, T> again;
    synchronized (this) {
      again = Map.copyOf(mine);
    }
    again.forEach((id, value) -> send(MemberCall.newBuilder().setEphemeralPut(MemberEphemeralPut.newBuilder()
        .setType(typeName()).setId(id).addAllAttributes(EphemeralRecords.encode(value)).setTtlMs(ttlMillis()))));
  }

  /** The stream ended: what the mirror held of others is unknown until the next holder's snapshot. */
  void detached() {
    Map<String, Entry> gone;
    synchronized (this) {
      gone = new LinkedHashMap<>(mirror);
      mirror.clear();
    }
    gone.forEach((id, entry) -> listeners.forEach(listener -> listener.removed(id, entry.owner())));
  }

  /** An event of the holder for this type. */
  void received(MemberEphemeralChange change) {
    if (change.getRemoved()) {
      Entry removed;
      synchronized (this) {
        removed = mirror.remove(change.getId());
      }
      if (removed != null) {
        listeners.forEach(listener -> listener.removed(change.getId(), change.getOwner()));
      }
      return;
    }
    T value;
    try {
      value = type.cast(EphemeralRecords.decode(type, change.getAttributesList()));
    } catch (DecodeException | RuntimeException e) {
      LOG.warnf("Entanglement: ephemeral %s '%s' from the member holding the links does not fit this member's record "
          + "type (versions differ?): %s", type.getName(), change.getId(), e.getMessage());
      return;
    }
    Entry previous;
    synchronized (this) {
      previous = mirror.put(change.getId(), new Entry(value, change.getOwner()));
    }
    for (Listener<T> listener : listeners) {
      if (previous == null) {
        listener.added(change.getId(), value, change.getOwner());
      } else {
        listener.updated(change.getId(), value, change.getOwner());
      }
    }
  }

  /** This member took the links over: the node's own store serves the type, with this member's objects in it. */
  void serveLocally(EphemeralObjects<T> store) {
    Map<String, T> again;
    synchronized (this) {
      again = Map.copyOf(mine);
      mine.clear();
      mirror.clear();
    }
    listeners.forEach(store::subscribe);
    again.forEach(store::put);
    local = store;
  }

  private void send(MemberCall.Builder call) {
    link.call(call).whenComplete((reply, failure) -> {
      if (failure != null) {
        LOG.debugf("Entanglement: ephemeral %s call through the member link failed (kept; sent again at the next "
            + "attach): %s", typeName(), failure.getMessage());
      }
    });
  }
}
