package dev.entanglement.hibernate.internal.ephemeral;

import static dev.entanglement.hibernate.internal.ephemeral.EphemeralChanges.ALREADY_CURRENT;
import static dev.entanglement.hibernate.internal.ephemeral.EphemeralChanges.APPLIED;
import static dev.entanglement.hibernate.internal.ephemeral.EphemeralChanges.compare;
import static dev.entanglement.hibernate.internal.ephemeral.EphemeralChanges.malformed;
import static dev.entanglement.hibernate.internal.ephemeral.EphemeralChanges.rejected;

import dev.entanglement.hibernate.internal.core.Ticker;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.RejectReason;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The replicated state of ephemeral objects at one node: each object's state, owner, source and
 * (incarnation, serial), and the rules that change them (see {@code docs/ephemeral.md}). Pure: no
 * threads, no network; time comes through the {@link Ticker} of its {@link EphemeralExpiry}, and
 * every effect (a send, a listener event) is handed to {@link Events} synchronously, in order.
 *
 * <p>A received state is applied when it is newer by (owner incarnation, owner serial). Each
 * received object remembers its <em>source</em>, the stream it came over (an opaque token
 * compared by identity, with the peer's name); a copy of the same state from the owner itself
 * makes the owner the source. When a source ends, its objects go and path-lost notices go to the
 * other peers; a peer that holds an object from elsewhere answers a notice with its copy.
 *
 * <p>An object of a type not registered here is held undecoded (value null): the node relays it,
 * and decodes it once the type is registered. How many are held is bounded, with the policy
 * stated in {@link UndecodedBound}: a new one beyond the bound is refused in band and not relayed.
 *
 * <h2>Concurrency</h2>
 * Not thread-safe. Every field ({@code byType}, {@code lastSerial}, the expiry and the undecoded
 * bound) is confined to the holder of the lock of the
 * {@link EphemeralStore} that owns the table; {@link Events} are called while it is held, so
 * they must only queue work.
 *
 * @param <S> the token of a source stream (compared by identity)
 */
final class EphemeralTable<S> {
  /** Where the table's effects go; called under the store's lock, in the order of the changes. */
  interface Events<S> {
    /** Sends a change to every peer but {@code exceptPeer} (null for none) and the change's owner. */
    void send(String exceptPeer, Change change);

    /** Sends a change to the peer of one stream. */
    void offer(S to, Change change);

    void added(String type, String id, Object value, String owner);

    void updated(String type, String id, Object value, String owner);

    void removed(String type, String id, String owner, RemovalCause cause);
  }

  private record Key(String type, String id) {}

  /** One object; {@code value} is null while its type is not registered here; {@code source} null for own objects. */
  private record Entry<S>(Key key, String owner, long incarnation, long serial, Object value, Change change,
      S source, String sourcePeer) {
    Entry<S> withSource(S newSource, String peer) {
      return new Entry<>(key, owner, incarnation, serial, value, change, newSource, peer);
    }

    Entry<S> withValue(Object newValue) {
      return new Entry<>(key, owner, incarnation, serial, newValue, change, source, sourcePeer);
    }

    boolean cameFrom(String peer) {
      return source != null && peer != null && peer.equals(sourcePeer);
    }
  }

  private final String node;
  /** Orders this node's states against those of its earlier runs (a restarted owner starts its serials again). */
  private final long incarnation;
  private final UndecodedBound undecoded;
  private final Events<S> events;
  private final EphemeralExpiry<Key> expiry;
  private final Map<String, Map<String, Entry<S>>> byType = new HashMap<>();
  private long lastSerial;

  /** @param undecoded the bound on objects held undecoded (types not registered here) */
  EphemeralTable(String node, long incarnation, Ticker ticker, UndecodedBound undecoded, Events<S> events) {
    this.node = node;
    this.incarnation = incarnation;
    this.undecoded = undecoded;
    this.events = events;
    this.expiry = new EphemeralExpiry<>(ticker);
  }

  // ---- this node's own objects ------------------------------------------------------------------

  /**
   * Creates or replaces an object this node owns and sends it.
   *
   * @throws IllegalStateException if another node owns it
   */
  void put(String type, String id, Object value, List<Attribute> attributes, long ttlMillis) {
    Key key = new Key(type, id);
    Entry<S> existing = entry(key);
    if (existing != null && !existing.owner().equals(node)) {
      throw new IllegalStateException(("ephemeral %s '%s' is owned by node '%s'; only its owner changes it "
          + "(node '%s' may use another id)").formatted(type, id, existing.owner(), node));
    }
    long serial = ++lastSerial;
    Change change = EphemeralChanges.upsert(type, id, node, incarnation, serial, attributes, ttlMillis);
    store(new Entry<>(key, node, incarnation, serial, value, change, null, null), ttlMillis);
    events.send(null, change);
    if (existing == null) {
      events.added(type, id, value, node);
    } else {
      events.updated(type, id, value, node);
    }
  }

  /**
   * Removes an object this node owns, everywhere. Returns whether it existed.
   *
   * @throws IllegalStateException if another node owns it
   */
  boolean remove(String type, String id) {
    Key key = new Key(type, id);
    Entry<S> existing = entry(key);
    if (existing == null) {
      return false;
    }
    if (!existing.owner().equals(node)) {
      throw new IllegalStateException("ephemeral %s '%s' is owned by node '%s'; only its owner removes it"
          .formatted(type, id, existing.owner()));
    }
    drop(existing);
    events.send(null, removal(existing, ++lastSerial, false));
    events.removed(type, id, existing.owner(), RemovalCause.REMOVED);
    return true;
  }

  // ---- reading ----------------------------------------------------------------------------------

  /** The decoded object, or null (unknown, or its type not registered here). */
  Object value(String type, String id) {
    Entry<S> entry = entry(new Key(type, id));
    return entry == null ? null : entry.value();
  }

  /** The owner of the object, or null if this node does not know it. */
  String owner(String type, String id) {
    Entry<S> entry = entry(new Key(type, id));
    return entry == null ? null : entry.owner();
  }

  /** The decoded objects of a type, by id. */
  Map<String, Object> values(String type) {
    Map<String, Object> values = new LinkedHashMap<>();
    for (Entry<S> entry : byType.getOrDefault(type, Map.of()).values()) {
      if (entry.value() != null) {
        values.put(entry.key().id(), entry.value());
      }
    }
    return values;
  }

  /** How many objects this node holds, of every type. */
  int size() {
    int size = 0;
    for (Map<String, Entry<S>> entries : byType.values()) {
      size += entries.size();
    }
    return size;
  }

  /** How many objects of this owner are held undecoded. */
  int undecoded(String owner) {
    return undecoded.held(owner);
  }

  /** How many objects are held undecoded, of every owner. */
  int undecoded() {
    return undecoded.held();
  }

  // ---- receiving --------------------------------------------------------------------------------

  /** Why a received change cannot be taken at all (malformed, or claiming this node as owner), or null. */
  Outcome invalid(Change change) {
    String problem = malformed(change);
    if (problem != null) {
      return rejected(RejectReason.MALFORMED, problem);
    }
    if (change.getOwner().equals(node)) {
      return rejected(RejectReason.NOT_OWNER, "ephemeral %s '%s' claims owner '%s', which is this node"
          .formatted(change.getEntity(), change.getId().getText(), node));
    }
    return null;
  }

  /**
   * Applies a valid change received from {@code peer} over the stream {@code from}.
   *
   * @param value the decoded record; null for a removal or a type not registered here
   */
  Outcome receive(String peer, S from, Change change, Object value) {
    String type = change.getEntity();
    String id = change.getId().getText();
    Key key = new Key(type, id);
    Entry<S> existing = entry(key);
    // a withdrawal (this node may no longer hold the object) removes it as the owner's removal does,
    // also at the serial held (the state held is the one now denied), and is passed on the same way
    boolean withdrawal = change.getOperation() == Operation.WITHDRAW;
    boolean remove = change.getOperation() != Operation.UPSERT;
    int order = existing == null ? 1 : compare(change.getEpoch(), change.getSerial(), existing.incarnation(),
        existing.serial());
    if (change.getOperation() == Operation.DELETE && (change.getEphemeralPathLost() || order == 0)) {
      return pathLost(peer, from, existing, change);
    }
    if (existing != null && !existing.owner().equals(change.getOwner())) {
      return rejected(RejectReason.NOT_OWNER, "ephemeral %s '%s' is owned by '%s'; '%s' cannot change it"
          .formatted(type, id, existing.owner(), change.getOwner()));
    }
    if (order < 0) {
      return ALREADY_CURRENT;
    }
    if (order == 0 && !withdrawal) {
      // the same state again: from the owner itself, or over a new stream with the peer it came
      // from, it now depends on that link (a node next to the owner relies on the owner only)
      if (peer.equals(change.getOwner()) || existing.cameFrom(peer)) {
        swap(existing.withSource(from, peer));
      }
      return ALREADY_CURRENT;
    }
    if (remove) {
      if (existing == null) {
        return ALREADY_CURRENT;
      }
      drop(existing);
      events.send(peer, change);
      events.removed(type, id, existing.owner(), RemovalCause.REMOVED);
      return APPLIED;
    }
    if (value == null && (existing == null || existing.value() != null)) {
      String refusal = undecoded.refusal(change.getOwner(), type);
      if (refusal != null) {
        return rejected(RejectReason.POLICY, refusal);
      }
    }
    store(new Entry<>(key, change.getOwner(), change.getEpoch(), change.getSerial(), value, change, from, peer),
        change.getTtlMs());
    events.send(peer, change);
    if (value != null) {
      if (existing == null || existing.value() == null) {
        events.added(type, id, value, change.getOwner());
      } else {
        events.updated(type, id, value, change.getOwner());
      }
    }
    return APPLIED;
  }

  /**
   * A peer lost its way to an object's owner. If this node holds the object from that peer, it
   * drops it and tells its other peers; if it holds it from elsewhere, the peer gets this node's
   * copy back (it has a way to the owner again, through this node).
   */
  private Outcome pathLost(String peer, S from, Entry<S> existing, Change notice) {
    if (existing == null || !existing.owner().equals(notice.getOwner())) {
      return ALREADY_CURRENT;
    }
    if (existing.cameFrom(peer)) {
      drop(existing);
      events.send(peer, removal(existing, existing.serial(), true));
      events.removed(existing.key().type(), existing.key().id(), existing.owner(), RemovalCause.PATH_LOST);
      return APPLIED;
    }
    events.offer(from, current(existing));
    return ALREADY_CURRENT;
  }

  // ---- streams, owners, time, registration ------------------------------------------------------

  /** A peer's stream is open: it is offered every object but its own and those it sent here. */
  void catchUp(String peer, S to) {
    for (Map<String, Entry<S>> entries : byType.values()) {
      for (Entry<S> entry : entries.values()) {
        if (!entry.owner().equals(peer) && !entry.cameFrom(peer)) {
          events.offer(to, current(entry));
        }
      }
    }
  }

  /**
   * The stream {@code source} with {@code peer} ended: what came over it goes, and the other
   * peers get path-lost notices. Returns how many objects went.
   */
  int sourceEnded(String peer, S source) {
    List<Entry<S>> gone = matching(entry -> entry.source() == source);
    for (Entry<S> entry : gone) {
      drop(entry);
      events.send(peer, removal(entry, entry.serial(), true));
      events.removed(entry.key().type(), entry.key().id(), entry.owner(), RemovalCause.SOURCE_ENDED);
    }
    return gone.size();
  }

  /** An operator removed an owner: its objects go here (every node hears of the removal itself). */
  void ownerRemoved(String owner) {
    for (Entry<S> entry : matching(entry -> entry.owner().equals(owner))) {
      drop(entry);
      events.removed(entry.key().type(), entry.key().id(), entry.owner(), RemovalCause.OWNER_REMOVED);
    }
  }

  /**
   * Drops the objects whose time to live passed, this node's own too. Every node does this by
   * itself: nothing is sent. Returns how many went.
   */
  int expire() {
    List<Key> due = expiry.pollExpired();
    for (Key key : due) {
      Entry<S> entry = entry(key);
      if (entry != null) {
        drop(entry);
        events.removed(key.type(), key.id(), entry.owner(), RemovalCause.EXPIRED);
      }
    }
    return due.size();
  }

  /**
   * A type was registered here: the objects of it held undecoded get their values.
   *
   * @param decode the record of a change, or null if it does not fit the type
   */
  void decodeHeld(String type, Function<Change, Object> decode) {
    for (Entry<S> entry : new ArrayList<>(byType.getOrDefault(type, Map.of()).values())) {
      if (entry.value() == null && entry.change().getOperation() == Operation.UPSERT) {
        Object value = decode.apply(entry.change());
        if (value != null) {
          swap(entry.withValue(value));
        }
      }
    }
  }

  // ---- the indexes: every change of an entry goes through store, swap or drop -------------------

  private Entry<S> entry(Key key) {
    Map<String, Entry<S>> entries = byType.get(key.type());
    return entries == null ? null : entries.get(key.id());
  }

  /** Puts a new state, with a new time to live (none if not positive). */
  private void store(Entry<S> entry, long ttlMillis) {
    swap(entry);
    if (ttlMillis > 0) {
      expiry.schedule(entry.key(), TimeUnit.MILLISECONDS.toNanos(ttlMillis));
    } else {
      expiry.cancel(entry.key());
    }
  }

  /** Replaces an entry, keeping its deadline. */
  private void swap(Entry<S> entry) {
    Entry<S> old = byType.computeIfAbsent(entry.key().type(), t -> new HashMap<>()).put(entry.key().id(), entry);
    if (old != null && old.value() == null) {
      undecoded.count(old.owner(), -1);
    }
    if (entry.value() == null) {
      undecoded.count(entry.owner(), 1);
    }
  }

  private void drop(Entry<S> entry) {
    Map<String, Entry<S>> entries = byType.get(entry.key().type());
    if (entries == null || entries.remove(entry.key().id()) == null) {
      return;
    }
    if (entries.isEmpty()) {
      byType.remove(entry.key().type());
    }
    if (entry.value() == null) {
      undecoded.count(entry.owner(), -1);
    }
    expiry.cancel(entry.key());
  }

  private List<Entry<S>> matching(Predicate<Entry<S>> test) {
    List<Entry<S>> found = new ArrayList<>();
    for (Map<String, Entry<S>> entries : byType.values()) {
      for (Entry<S> entry : entries.values()) {
        if (test.test(entry)) {
          found.add(entry);
        }
      }
    }
    return found;
  }

  // ---- values -----------------------------------------------------------------------------------

  /** The entry's state as sent now: with the time to live it has left, so it expires everywhere at about the same time. */
  private Change current(Entry<S> entry) {
    long left = expiry.remainingNanos(entry.key());
    if (left < 0) {
      return entry.change();
    }
    long leftMillis = Math.max(1, (left + 999_999) / 1_000_000);
    return entry.change().toBuilder().setTtlMs(leftMillis).build();
  }

  private static Change removal(Entry<?> entry, long serial, boolean pathLost) {
    return EphemeralChanges.removal(entry.key().type(), entry.key().id(), entry.owner(), entry.incarnation(), serial,
        pathLost);
  }
}
