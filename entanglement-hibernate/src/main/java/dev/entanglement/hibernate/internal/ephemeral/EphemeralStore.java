package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.hibernate.EphemeralObjects;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.Values;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.core.SerialExecutor;
import dev.entanglement.proto.v1.Attribute;
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
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import org.jboss.logging.Logger;

/**
 * The ephemeral objects a node knows, its own and those received, in memory only (see
 * {@code docs/ephemeral.md}).
 *
 * <p>Changes go to peers through their outboxes as changes flagged {@code ephemeral}: they
 * coalesce per object and share flow control, bandwidth limits and policies with entities. A
 * received state is applied when it is newer by (owner incarnation, owner serial), and relayed to
 * the other peers (never back, never to the owner). Each received object remembers the connection
 * it came over, its <em>source</em>; a copy of the same state from the owner itself makes the
 * owner the source, so a node next to the owner depends on that link only. When a connection
 * ends, the objects whose source it was are dropped and a <em>path-lost</em> notice goes to the
 * other peers: a peer whose source for the object is this node drops it too and passes the notice
 * on; a peer that holds it from elsewhere keeps it and sends its copy back, so a node that still
 * has another way to the owner heals. Sources always point to a node that held the state
 * earlier, so they never form a cycle that keeps a dead owner's objects alive.
 *
 * <h2>Concurrency</h2>
 * {@code entries} and {@code lastSerial} are guarded by {@code this}. Sends to the outboxes and
 * listener callbacks are queued while holding it, on two serial executors ({@code outgoing},
 * {@code callbacks}), so they happen in the order of the changes without running policies or
 * application code under the lock (a policy or listener may take the application's locks while
 * an application thread holding them waits to put). {@link #queuedSends} lets
 * {@code caughtUp} wait for the sends queued before it. Registrations are in concurrent maps.
 */
public final class EphemeralStore {
  private static final Logger LOG = Logger.getLogger(EphemeralStore.class);
  private static final Outcome ALREADY_CURRENT = Outcome.newBuilder().setStatus(OutcomeStatus.ALREADY_CURRENT).build();
  private static final Outcome APPLIED = Outcome.newBuilder().setStatus(OutcomeStatus.APPLIED).build();

  /** What the store needs from the node. */
  public interface Host {
    String nodeName();

    /** The open, handshaken connections. */
    Collection<PeerConnection> connections();

    /** The registered connection with a peer, or null. */
    PeerConnection connection(String peer);

    /** The policies' denial of a received ephemeral object (type null when not registered here), or null. */
    String receiveDenied(String peer, Class<?> type, Change change);

    /** The policies' denial of a received record, next to the one held (or null), or null. */
    String receiveObjectDenied(String peer, Class<?> type, Change change, Object incoming, Object stored);

    /** The node where an operator removed this owner, or null if it was not removed. */
    String removedBy(String owner);

    /** Whether an {@code @Entangled} entity has this name (a wire name ephemeral types may not take). */
    boolean isEntity(String name);
  }

  /**
   * One object as this node knows it. {@code value} is null while its type is not registered
   * here; {@code source} is the connection it came over, null for this node's own objects.
   */
  private record Entry(String type, String id, String owner, long incarnation, long serial, Object value,
      Change change, PeerConnection source, long expiresAtNanos) {
    Entry withSource(PeerConnection newSource) {
      return new Entry(type, id, owner, incarnation, serial, value, change, newSource, expiresAtNanos);
    }

    Entry withValue(Object newValue) {
      return new Entry(type, id, owner, incarnation, serial, newValue, change, source, expiresAtNanos);
    }

    boolean cameFrom(String peer) {
      return source != null && peer.equals(source.peerName());
    }
  }

  private final Host host;
  private final Executor outgoing;
  private final Executor callbacks;
  /** Orders this node's states against those of its earlier runs (a restarted owner starts its serials again). */
  private final long incarnation = System.currentTimeMillis();
  private long lastSerial; // guarded by this
  private final Map<String, Registered<?>> byName = new ConcurrentHashMap<>();
  private final Map<Class<?>, Registered<?>> byClass = new ConcurrentHashMap<>();
  private final Map<String, Entry> entries = new HashMap<>(); // guarded by this: key(type, id) -> entry

  /** @param pool runs the sends and the listener callbacks (each kept in order) */
  public EphemeralStore(Host host, Executor pool) {
    this.host = host;
    this.outgoing = new SerialExecutor(pool);
    this.callbacks = new SerialExecutor(pool);
  }

  /**
   * Registers a record type; registering it again returns the same objects (with another time to
   * live it is refused).
   *
   * @throws IllegalArgumentException naming the type and the problem
   */
  @SuppressWarnings("unchecked")
  public synchronized <T> EphemeralObjects<T> register(Class<T> type, Duration ttl) {
    Registered<?> known = byClass.get(type);
    if (known != null) {
      if (!Objects.equals(known.ttl, ttl)) {
        throw new IllegalArgumentException("ephemeral type %s is registered with time to live %s already, not %s"
            .formatted(type.getName(), known.ttl, ttl));
      }
      return (EphemeralObjects<T>) known;
    }
    if (ttl != null && (ttl.isNegative() || ttl.isZero())) {
      throw new IllegalArgumentException("the time to live of ephemeral type %s is %s; expected a positive duration or none"
          .formatted(type.getName(), ttl));
    }
    RecordCodec codec = new RecordCodec(type);
    String name = type.getSimpleName();
    Registered<?> clash = byName.get(name);
    if (clash != null) {
      throw new IllegalArgumentException("ephemeral types %s and %s have the same name '%s' on the wire; rename one"
          .formatted(clash.type.getName(), type.getName(), name));
    }
    if (host.isEntity(name)) {
      throw new IllegalArgumentException(("ephemeral type %s has the name '%s' on the wire, which is the name of an "
          + "@Entangled entity; rename the record").formatted(type.getName(), name));
    }
    Registered<T> registered = new Registered<>(type, name, codec, ttl);
    // objects of this type received before it was registered here
    for (Map.Entry<String, Entry> held : entries.entrySet()) {
      Entry raw = held.getValue();
      if (raw.type.equals(name) && raw.value == null && raw.change.getOperation() == Operation.UPSERT) {
        try {
          held.setValue(raw.withValue(codec.decode(raw.change.getAttributesList())));
        } catch (DecodeException e) {
          LOG.warnf("Ephemeral %s '%s' of '%s' does not fit the type registered at node '%s': %s", name, raw.id,
              raw.owner, host.nodeName(), e.getMessage());
        }
      }
    }
    byName.put(name, registered);
    byClass.put(type, registered);
    return registered;
  }

  /** The record an ephemeral change carries, or null (a removal, a type not registered here, a value that does not fit). */
  public Object decoded(Change change) {
    Registered<?> registered = byName.get(change.getEntity());
    if (registered == null || change.getOperation() != Operation.UPSERT) {
      return null;
    }
    try {
      return registered.codec.decode(change.getAttributesList());
    } catch (DecodeException e) {
      return null;
    }
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
      if (id == null || id.isEmpty()) {
        throw new IllegalArgumentException("an ephemeral %s needs a non-empty id, got %s"
            .formatted(name, id == null ? "null" : "''"));
      }
      if (!type.isInstance(value)) {
        throw new IllegalArgumentException("ephemeral %s '%s': expected a %s, got %s (use remove(id) to remove it)"
            .formatted(name, id, type.getName(), value == null ? "null" : value.getClass().getName()));
      }
      List<Attribute> attributes = codec.encode(value);
      long ttlMillis = ttl == null ? 0 : ttl.toMillis();
      synchronized (EphemeralStore.this) {
        String key = key(name, id);
        Entry existing = entries.get(key);
        if (existing != null && !existing.owner.equals(host.nodeName())) {
          throw new IllegalStateException(("ephemeral %s '%s' is owned by node '%s'; only its owner changes it "
              + "(node '%s' may use another id)").formatted(name, id, existing.owner, host.nodeName()));
        }
        long serial = ++lastSerial;
        Change change = Change.newBuilder().setEphemeral(true).setEntity(name).setId(textId(id))
            .setOwner(host.nodeName()).setEpoch(incarnation).setSerial(serial).setOperation(Operation.UPSERT)
            .addAllAttributes(attributes).setTtlMs(ttlMillis).build();
        entries.put(key, new Entry(name, id, host.nodeName(), incarnation, serial, value, change, null,
            expiry(ttlMillis)));
        send(null, change);
        if (existing == null) {
          added(this, id, value, host.nodeName());
        } else {
          updated(this, id, value, host.nodeName());
        }
      }
    }

    @Override
    public boolean remove(String id) {
      synchronized (EphemeralStore.this) {
        Entry existing = entries.get(key(name, id));
        if (existing == null) {
          return false;
        }
        if (!existing.owner.equals(host.nodeName())) {
          throw new IllegalStateException("ephemeral %s '%s' is owned by node '%s'; only its owner removes it"
              .formatted(name, id, existing.owner));
        }
        entries.remove(key(name, id));
        send(null, removal(existing, ++lastSerial, false));
        removed(this, id, existing.owner);
        return true;
      }
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
      listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    @Override
    public void unsubscribe(Listener<T> listener) {
      listeners.remove(listener);
    }
  }

  // ---- receiving ------------------------------------------------------------------------------

  /** Applies an ephemeral change from a peer; returns its outcome (index left to the caller). Never throws. */
  public Outcome apply(String peer, Change change) {
    String problem = malformed(change);
    if (problem != null) {
      return rejected(RejectReason.MALFORMED, problem);
    }
    String typeName = change.getEntity();
    String id = change.getId().getText();
    if (change.getOwner().equals(host.nodeName())) {
      return rejected(RejectReason.NOT_OWNER, "ephemeral %s '%s' claims owner '%s', which is this node"
          .formatted(typeName, id, host.nodeName()));
    }
    String removedBy = host.removedBy(change.getOwner());
    if (removedBy != null) {
      return rejected(RejectReason.POLICY, "owner '%s' was removed by an operator at '%s'; its objects are not accepted"
          .formatted(change.getOwner(), removedBy));
    }
    // a type not registered here is kept undecoded: the node relays it, and decodes it once the
    // application registers the type
    Registered<?> registered = byName.get(typeName);
    String denial = host.receiveDenied(peer, registered == null ? null : registered.type, change);
    if (denial != null) {
      return rejected(RejectReason.POLICY, denial);
    }
    boolean remove = change.getOperation() == Operation.DELETE;
    Object value = null;
    if (!remove && registered != null) {
      try {
        value = registered.codec.decode(change.getAttributesList());
      } catch (DecodeException e) {
        return rejected(e.reason(), e.getMessage());
      }
    }
    if (value != null) {
      Object stored;
      synchronized (this) {
        Entry held = entries.get(key(typeName, id));
        stored = held == null ? null : held.value;
      }
      denial = host.receiveObjectDenied(peer, registered.type, change, value, stored);
      if (denial != null) {
        return rejected(RejectReason.POLICY, denial);
      }
    }
    PeerConnection from = host.connection(peer);
    if (from == null) {
      return ALREADY_CURRENT; // the stream has ended meanwhile: nothing may depend on it
    }
    String key = key(typeName, id);
    synchronized (this) {
      if (from.state() == PeerConnection.State.CLOSED) {
        return ALREADY_CURRENT; // ended meanwhile; disconnected() runs after this, or has run
      }
      Entry existing = entries.get(key);
      int order = existing == null ? 1 : compare(change.getEpoch(), change.getSerial(), existing.incarnation, existing.serial);
      if (remove && (change.getEphemeralPathLost() || order == 0)) {
        return pathLost(peer, from, existing, change);
      }
      if (existing != null && !existing.owner.equals(change.getOwner())) {
        return rejected(RejectReason.NOT_OWNER, "ephemeral %s '%s' is owned by '%s'; '%s' cannot change it"
            .formatted(typeName, id, existing.owner, change.getOwner()));
      }
      if (order < 0) {
        return ALREADY_CURRENT;
      }
      if (order == 0) {
        // the same state again: from the owner itself, or over a new stream with the peer it came
        // from, it now depends on that link (a node next to the owner relies on the owner only)
        if (peer.equals(change.getOwner()) || existing.cameFrom(peer)) {
          entries.put(key, existing.withSource(from));
        }
        return ALREADY_CURRENT;
      }
      if (remove) {
        if (existing == null) {
          return ALREADY_CURRENT;
        }
        entries.remove(key);
        send(peer, change);
        removed(registered, id, existing.owner);
        return APPLIED;
      }
      entries.put(key, new Entry(typeName, id, change.getOwner(), change.getEpoch(), change.getSerial(), value, change,
          from, expiry(change.getTtlMs())));
      send(peer, change);
      if (existing == null || existing.value == null) {
        added(registered, id, value, change.getOwner());
      } else {
        updated(registered, id, value, change.getOwner());
      }
      return APPLIED;
    }
  }

  /**
   * A peer lost its way to an object's owner. If this node holds the object from that peer, it
   * drops it and tells its other peers; if it holds it from elsewhere, the peer gets this node's
   * copy back (it has a way to the owner again, through this node).
   */
  private Outcome pathLost(String peer, PeerConnection from, Entry existing, Change notice) {
    if (existing == null || !existing.owner.equals(notice.getOwner())) {
      return ALREADY_CURRENT;
    }
    if (existing.cameFrom(peer)) {
      entries.remove(key(existing.type, existing.id));
      send(peer, removal(existing, existing.serial, true));
      removed(byName.get(existing.type), existing.id, existing.owner);
      return APPLIED;
    }
    offerTo(from, current(existing));
    return ALREADY_CURRENT;
  }

  private static String malformed(Change change) {
    if (change.getEntity().isEmpty()) {
      return "ephemeral object without a type";
    }
    if (change.getId().getKindCase() != Value.KindCase.TEXT || change.getId().getText().isEmpty()) {
      return "ephemeral %s without an id (ephemeral ids are non-empty text, got %s)"
          .formatted(change.getEntity(), Values.describeKind(change.getId()));
    }
    if (change.getOwner().isEmpty()) {
      return "ephemeral %s '%s' without an owner".formatted(change.getEntity(), change.getId().getText());
    }
    if (change.getOperation() != Operation.UPSERT && change.getOperation() != Operation.DELETE) {
      return "ephemeral %s '%s' with operation %s; expected UPSERT or DELETE"
          .formatted(change.getEntity(), change.getId().getText(), change.getOperation());
    }
    return null;
  }

  // ---- connections ------------------------------------------------------------------------------

  /** A peer's stream is open: it gets every object this node knows but its own and those it sent here. */
  public synchronized void connected(PeerConnection connection) {
    String peer = connection.peerName();
    if (peer == null) {
      return;
    }
    for (Entry entry : entries.values()) {
      if (!entry.owner.equals(peer) && !entry.cameFrom(peer)) {
        offerTo(connection, current(entry));
      }
    }
  }

  /** Offers every object again to every peer (policies may allow more now). */
  public void resend() {
    for (PeerConnection connection : host.connections()) {
      connected(connection);
    }
  }

  /**
   * A stream ended (or was replaced by a newer one with the same peer): what came over it is gone,
   * since its owner, or the way to it, went away. The other peers get path-lost notices.
   */
  public synchronized void disconnected(PeerConnection connection) {
    String peer = connection.peerName();
    int dropped = 0;
    for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
      Entry entry = it.next();
      if (entry.source == connection) {
        it.remove();
        dropped++;
        send(peer, removal(entry, entry.serial, true));
        removed(byName.get(entry.type), entry.id, entry.owner);
      }
    }
    if (dropped > 0) {
      LOG.debugf("Node '%s' dropped %d ephemeral objects that came from peer '%s'", host.nodeName(), dropped, peer);
    }
  }

  /** An operator removed an owner: its objects go (every node hears of the removal itself). */
  public synchronized void ownerRemoved(String owner) {
    for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
      Entry entry = it.next();
      if (entry.owner.equals(owner)) {
        it.remove();
        removed(byName.get(entry.type), entry.id, entry.owner);
      }
    }
  }

  /**
   * Drops objects whose time to live passed, this node's own too (an owner keeps an object alive
   * by putting it again). Every node does this by itself: no message is sent.
   */
  public synchronized void expire() {
    long now = System.nanoTime();
    for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
      Entry entry = it.next();
      if (entry.expiresAtNanos != 0 && now - entry.expiresAtNanos >= 0) {
        it.remove();
        removed(byName.get(entry.type), entry.id, entry.owner);
      }
    }
  }

  /** Completes once every send queued so far has reached the peers' outboxes. */
  public java.util.concurrent.CompletableFuture<Void> queuedSends() {
    java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
    outgoing.execute(() -> done.complete(null));
    return done;
  }

  /** How many objects this node knows, of every type (registered here or not). */
  public synchronized int size() {
    return entries.size();
  }

  // ---- helpers (callers hold the lock where it matters) ---------------------------------------

  private static String key(String type, String id) {
    return "~" + type + '#' + id;
  }

  private static Value textId(String id) {
    return Value.newBuilder().setText(id).build();
  }

  private static int compare(long incarnation, long serial, long otherIncarnation, long otherSerial) {
    int byIncarnation = Long.compare(incarnation, otherIncarnation);
    return byIncarnation != 0 ? byIncarnation : Long.compare(serial, otherSerial);
  }

  private static long expiry(long ttlMillis) {
    if (ttlMillis <= 0) {
      return 0;
    }
    long at = System.nanoTime() + ttlMillis * 1_000_000L;
    return at == 0 ? 1 : at;
  }

  /** The entry's state as sent now: with the time to live it has left, so it expires everywhere at about the same time. */
  private static Change current(Entry entry) {
    if (entry.expiresAtNanos == 0) {
      return entry.change;
    }
    long leftMillis = Math.max(1, (entry.expiresAtNanos - System.nanoTime() + 999_999) / 1_000_000);
    return entry.change.toBuilder().setTtlMs(leftMillis).build();
  }

  private static Change removal(Entry entry, long serial, boolean pathLost) {
    return Change.newBuilder().setEphemeral(true).setEntity(entry.type).setId(textId(entry.id)).setOwner(entry.owner)
        .setEpoch(entry.incarnation).setSerial(serial).setOperation(Operation.DELETE).setEphemeralPathLost(pathLost)
        .build();
  }

  private static Outgoing outgoing(Change change) {
    return new Outgoing(key(change.getEntity(), change.getId().getText()), 0, true, change);
  }

  /** Queues a change for every peer but the one it came from and its owner. */
  private void send(String from, Change change) {
    Outgoing message = outgoing(change);
    outgoing.execute(() -> {
      for (PeerConnection connection : host.connections()) {
        String to = connection.peerName();
        if (to != null && !to.equals(from) && !to.equals(change.getOwner())) {
          connection.offer(message); // the policies decide there, per peer
        }
      }
    });
  }

  private void offerTo(PeerConnection connection, Change change) {
    Outgoing message = outgoing(change);
    outgoing.execute(() -> connection.offer(message));
  }

  private static Outcome rejected(RejectReason reason, String message) {
    return Outcome.newBuilder().setStatus(OutcomeStatus.REJECTED).setReason(reason).setMessage(message).build();
  }

  private <T> void added(Registered<T> registered, String id, Object value, String owner) {
    tell(registered, id, "added", listener -> listener.added(id, registered.type.cast(value), owner));
  }

  private <T> void updated(Registered<T> registered, String id, Object value, String owner) {
    tell(registered, id, "updated", listener -> listener.updated(id, registered.type.cast(value), owner));
  }

  private <T> void removed(Registered<T> registered, String id, String owner) {
    tell(registered, id, "removed", listener -> listener.removed(id, owner));
  }

  private <T> void tell(Registered<T> registered, String id, String what,
      java.util.function.Consumer<EphemeralObjects.Listener<T>> call) {
    if (registered == null || registered.listeners.isEmpty()) {
      return; // a type not registered here has no listeners, nor a decoded value
    }
    callbacks.execute(() -> {
      for (EphemeralObjects.Listener<T> listener : registered.listeners) {
        try {
          call.accept(listener);
        } catch (RuntimeException e) {
          LOG.warnf(e, "A listener of ephemeral %s failed when '%s' was %s at node '%s'", registered.name, id, what,
              host.nodeName());
        }
      }
    });
  }
}
