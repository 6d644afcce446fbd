package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.hibernate.EphemeralObjects;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.peer.Outgoing;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * The ephemeral objects a node knows: its own and those received, in memory only. Changes go to
 * peers through their outboxes as changes flagged {@code ephemeral} (so they coalesce per object
 * and share flow control, bandwidth limits and policies with entities) and are relayed on to
 * other peers. States are ordered by (owner incarnation, serial). An object received from a peer
 * is dropped when that peer's stream ends (its owner, or the path to it, went away) and when its
 * time to live passes; the removal is passed on.
 *
 * <h2>Concurrency</h2>
 * {@code entries} is guarded by {@code this}; nothing is offered or called back while holding
 * it. Listener callbacks run on {@code callbacks}, a serial executor.
 */
public final class EphemeralStore {
  private static final Logger LOG = Logger.getLogger(EphemeralStore.class);

  /** What the store needs from the node. */
  public interface Host {
    String nodeName();

    /** The open, handshaken connections. */
    Collection<PeerConnection> connections();

    /** The policies' denial of a received ephemeral object, or null. */
    String receiveDenied(String peer, Class<?> type, Change change);
  }

  /** One object as this node knows it. */
  private static final class Entry {
    final String type;
    final String id;
    final String owner;
    final long incarnation;
    final long serial;
    final Object value;
    final Change change;
    final String source; // the peer it came from, or null for this node's own
    final long expiresAtNanos; // 0: no time to live

    Entry(String type, String id, String owner, long incarnation, long serial, Object value, Change change,
        String source, long expiresAtNanos) {
      this.type = type;
      this.id = id;
      this.owner = owner;
      this.incarnation = incarnation;
      this.serial = serial;
      this.value = value;
      this.change = change;
      this.source = source;
      this.expiresAtNanos = expiresAtNanos;
    }
  }

  private final Host host;
  private final Executor callbacks;
  private final long incarnation = System.currentTimeMillis();
  private final AtomicLong serials = new AtomicLong();
  private final Map<String, Registered<?>> byName = new ConcurrentHashMap<>();
  private final Map<Class<?>, Registered<?>> byClass = new ConcurrentHashMap<>();
  // guarded by this: type + '#' + id -> entry
  private final Map<String, Entry> entries = new HashMap<>();

  public EphemeralStore(Host host, Executor callbacks) {
    this.host = host;
    this.callbacks = callbacks;
  }

  /** Registers a record type (again: returns the same objects; another time to live is refused). */
  @SuppressWarnings("unchecked")
  public synchronized <T> EphemeralObjects<T> register(Class<T> type, Duration ttl) {
    Registered<?> known = byClass.get(type);
    if (known != null) {
      if (!java.util.Objects.equals(known.ttl, ttl)) {
        throw new IllegalArgumentException("ephemeral type %s is registered with time to live %s already, not %s"
            .formatted(type.getName(), known.ttl, ttl));
      }
      return (EphemeralObjects<T>) known;
    }
    String name = type.getSimpleName();
    Registered<?> clash = byName.get(name);
    if (clash != null) {
      throw new IllegalArgumentException("ephemeral types %s and %s have the same name '%s' on the wire"
          .formatted(clash.type.getName(), type.getName(), name));
    }
    if (ttl != null && (ttl.isNegative() || ttl.isZero())) {
      throw new IllegalArgumentException("the time to live of ephemeral type %s is %s; expected a positive duration or none"
          .formatted(type.getName(), ttl));
    }
    Registered<T> registered = new Registered<>(type, name, new RecordCodec(type), ttl);
    // objects of this type received before it was registered here
    for (Map.Entry<String, Entry> held : entries.entrySet()) {
      Entry raw = held.getValue();
      if (raw.type.equals(name) && raw.value == null) {
        try {
          Object value = registered.codec.decode(raw.change.getAttributesList());
          held.setValue(new Entry(raw.type, raw.id, raw.owner, raw.incarnation, raw.serial, value, raw.change,
              raw.source, raw.expiresAtNanos));
        } catch (DecodeException e) {
          LOG.warnf("Ephemeral %s '%s' from '%s' does not fit the type registered here: %s", name, raw.id, raw.owner,
              e.getMessage());
        }
      }
    }
    byName.put(name, registered);
    byClass.put(type, registered);
    return registered;
  }

  /** The Java type registered under a wire name, or null. */
  public Class<?> typeNamed(String name) {
    Registered<?> registered = byName.get(name);
    return registered == null ? null : registered.type;
  }

  // ---- the typed view -------------------------------------------------------------------------

  private final class Registered<T> implements EphemeralObjects<T> {
    final Class<T> type;
    final String name;
    final RecordCodec codec;
    final Duration ttl;
    final List<Listener<T>> listeners = new CopyOnWriteArrayList<>();

    Registered(Class<T> type, String name, RecordCodec codec, Duration ttl) {
      this.type = type;
      this.name = name;
      this.codec = codec;
      this.ttl = ttl;
    }

    @Override
    public void put(String id, T value) {
      if (id == null || id.isEmpty() || value == null) {
        throw new IllegalArgumentException("an ephemeral " + name + " needs an id and a value");
      }
      long serial = serials.incrementAndGet();
      Change change = Change.newBuilder().setEphemeral(true).setEntity(name).setId(Value.newBuilder().setText(id))
          .setOwner(host.nodeName()).setEpoch(incarnation).setSerial(serial).setOperation(Operation.UPSERT)
          .addAllAttributes(codec.encode(value)).setTtlMs(ttl == null ? 0 : ttl.toMillis()).build();
      synchronized (EphemeralStore.this) {
        Entry existing = entries.get(key(name, id));
        if (existing != null && !existing.owner.equals(host.nodeName())) {
          throw new IllegalStateException(("ephemeral %s '%s' is owned by node '%s'; only its owner changes it "
              + "(node '%s' may use another id)").formatted(name, id, existing.owner, host.nodeName()));
        }
        entries.put(key(name, id), new Entry(name, id, host.nodeName(), incarnation, serial, value, change, null,
            expiry(ttl == null ? 0 : ttl.toMillis())));
      }
      send(null, change);
      updated(this, id, value, host.nodeName());
    }

    @Override
    public boolean remove(String id) {
      Entry removed;
      synchronized (EphemeralStore.this) {
        Entry existing = entries.get(key(name, id));
        if (existing == null) {
          return false;
        }
        if (!existing.owner.equals(host.nodeName())) {
          throw new IllegalStateException("ephemeral %s '%s' is owned by node '%s'; only its owner removes it"
              .formatted(name, id, existing.owner));
        }
        removed = entries.remove(key(name, id));
      }
      send(null, removal(removed, serials.incrementAndGet()));
      gone(this, id, removed.owner);
      return true;
    }

    @Override
    public Optional<T> get(String id) {
      synchronized (EphemeralStore.this) {
        Entry entry = entries.get(key(name, id));
        return entry == null || entry.value == null ? Optional.empty() : Optional.of(type.cast(entry.value));
      }
    }

    @Override
    public Map<String, T> all() {
      Map<String, T> all = new LinkedHashMap<>();
      synchronized (EphemeralStore.this) {
        for (Entry entry : entries.values()) {
          if (entry.type.equals(name) && entry.value != null) {
            all.put(entry.id, type.cast(entry.value));
          }
        }
      }
      return all;
    }

    @Override
    public Optional<String> ownerOf(String id) {
      synchronized (EphemeralStore.this) {
        Entry entry = entries.get(key(name, id));
        return entry == null ? Optional.empty() : Optional.of(entry.owner);
      }
    }

    @Override
    public void subscribe(Listener<T> listener) {
      listeners.add(listener);
    }

    @Override
    public void unsubscribe(Listener<T> listener) {
      listeners.remove(listener);
    }
  }

  // ---- receiving ------------------------------------------------------------------------------

  /** Applies an ephemeral change from a peer; returns its outcome. Never throws. */
  public Outcome apply(String peer, Change change) {
    // a type not registered here is kept undecoded: the node relays it, and decodes it once the
    // application registers the type
    Registered<?> registered = byName.get(change.getEntity());
    if (change.getEntity().isEmpty()) {
      return rejected(RejectReason.MALFORMED, "ephemeral object without a type");
    }
    if (change.getOwner().equals(host.nodeName())) {
      return rejected(RejectReason.NOT_OWNER, "ephemeral %s '%s' claims owner '%s', which is this node"
          .formatted(change.getEntity(), change.getId().getText(), host.nodeName()));
    }
    if (!change.getId().hasText() || change.getId().getText().isEmpty()) {
      return rejected(RejectReason.MALFORMED, "ephemeral " + change.getEntity() + " without an id");
    }
    String denial = host.receiveDenied(peer, registered == null ? null : registered.type, change);
    if (denial != null) {
      return rejected(RejectReason.POLICY, denial);
    }
    String id = change.getId().getText();
    String typeName = change.getEntity();
    boolean remove = change.getOperation() == Operation.DELETE;
    Object value = null;
    if (!remove && registered != null) {
      try {
        value = registered.codec.decode(change.getAttributesList());
      } catch (DecodeException e) {
        return rejected(e.reason(), e.getMessage());
      }
    }
    Entry removed = null;
    synchronized (this) {
      Entry existing = entries.get(key(typeName, id));
      if (existing != null) {
        if (!existing.owner.equals(change.getOwner())) {
          return rejected(RejectReason.NOT_OWNER, "ephemeral %s '%s' is owned by '%s'; '%s' cannot change it"
              .formatted(typeName, id, existing.owner, change.getOwner()));
        }
        boolean sameOwner = existing.owner.equals(change.getOwner());
        if (sameOwner && (change.getEpoch() < existing.incarnation
            || change.getEpoch() == existing.incarnation && (change.getSerial() < existing.serial
                || change.getSerial() == existing.serial && !remove))) {
          return Outcome.newBuilder().setStatus(OutcomeStatus.ALREADY_CURRENT).build();
        }
      } else if (remove) {
        return Outcome.newBuilder().setStatus(OutcomeStatus.ALREADY_CURRENT).build();
      }
      if (remove) {
        removed = entries.remove(key(typeName, id));
      } else {
        entries.put(key(typeName, id), new Entry(typeName, id, change.getOwner(), change.getEpoch(),
            change.getSerial(), value, change, peer, expiry(change.getTtlMs())));
      }
    }
    send(peer, change);
    if (registered != null) {
      if (remove) {
        if (removed != null) {
          gone(registered, id, removed.owner);
        }
      } else {
        updated(registered, id, value, change.getOwner());
      }
    }
    return Outcome.newBuilder().setStatus(OutcomeStatus.APPLIED).build();
  }

  /** A peer's stream is open: it gets every object this node knows (but its own). */
  public void connected(PeerConnection connection) {
    List<Change> current = new ArrayList<>();
    synchronized (this) {
      for (Entry entry : entries.values()) {
        if (!entry.owner.equals(connection.peerName())) {
          current.add(entry.change);
        }
      }
    }
    for (Change change : current) {
      connection.offer(new Outgoing(key(change.getEntity(), change.getId().getText()), 0, true, change));
    }
  }

  /** A peer's stream ended: what came over it is gone (its owner, or the way to it, went away). */
  public void disconnected(String peer) {
    List<Entry> dropped = new ArrayList<>();
    synchronized (this) {
      entries.values().removeIf(entry -> {
        if (peer.equals(entry.source)) {
          dropped.add(entry);
          return true;
        }
        return false;
      });
    }
    for (Entry entry : dropped) {
      send(peer, removal(entry, entry.serial));
      gone(byName.get(entry.type), entry.id, entry.owner);
    }
    if (!dropped.isEmpty()) {
      LOG.debugf("Node '%s' dropped %d ephemeral objects that came from peer '%s'", host.nodeName(), dropped.size(), peer);
    }
  }

  /** Drops objects whose time to live passed (this node's own too: their owner refreshes them by putting again). */
  public void expire() {
    long now = System.nanoTime();
    List<Entry> expired = new ArrayList<>();
    synchronized (this) {
      entries.values().removeIf(entry -> {
        if (entry.expiresAtNanos != 0 && now - entry.expiresAtNanos > 0) {
          expired.add(entry);
          return true;
        }
        return false;
      });
    }
    for (Entry entry : expired) {
      gone(byName.get(entry.type), entry.id, entry.owner);
    }
  }

  public synchronized int size() {
    return entries.size();
  }

  // ---- helpers -------------------------------------------------------------------------------

  private static String key(String type, String id) {
    return "~" + type + '#' + id;
  }

  private static long expiry(long ttlMillis) {
    if (ttlMillis <= 0) {
      return 0;
    }
    long at = System.nanoTime() + ttlMillis * 1_000_000L;
    return at == 0 ? 1 : at;
  }

  private static Change removal(Entry entry, long serial) {
    return Change.newBuilder().setEphemeral(true).setEntity(entry.type).setId(Value.newBuilder().setText(entry.id))
        .setOwner(entry.owner).setEpoch(entry.incarnation).setSerial(serial).setOperation(Operation.DELETE).build();
  }

  /** Offers a change to every peer but the one it came from and its owner. */
  private void send(String from, Change change) {
    Outgoing outgoing = new Outgoing(key(change.getEntity(), change.getId().getText()), 0, true, change);
    for (PeerConnection connection : host.connections()) {
      String to = connection.peerName();
      if (to != null && !to.equals(from) && !to.equals(change.getOwner())) {
        connection.offer(outgoing);
      }
    }
  }

  private static Outcome rejected(RejectReason reason, String message) {
    return Outcome.newBuilder().setStatus(OutcomeStatus.REJECTED).setReason(reason).setMessage(message).build();
  }

  private <T> void updated(Registered<T> registered, String id, Object value, String owner) {
    if (registered.listeners.isEmpty()) {
      return;
    }
    T typed = registered.type.cast(value);
    callbacks.execute(() -> {
      for (EphemeralObjects.Listener<T> listener : registered.listeners) {
        try {
          listener.updated(id, typed, owner);
        } catch (RuntimeException e) {
          LOG.warnf(e, "An ephemeral-object listener failed on %s '%s'", registered.name, id);
        }
      }
    });
  }

  private <T> void gone(Registered<T> registered, String id, String owner) {
    if (registered == null || registered.listeners.isEmpty()) {
      return;
    }
    callbacks.execute(() -> {
      for (EphemeralObjects.Listener<T> listener : registered.listeners) {
        try {
          listener.removed(id, owner);
        } catch (RuntimeException e) {
          LOG.warnf(e, "An ephemeral-object listener failed on %s '%s'", registered.name, id);
        }
      }
    });
  }
}
