package dev.entanglement.hibernate.internal.ephemeral;

import static dev.entanglement.hibernate.internal.ephemeral.EphemeralChanges.ALREADY_CURRENT;
import static dev.entanglement.hibernate.internal.ephemeral.EphemeralChanges.rejected;

import dev.entanglement.hibernate.EphemeralObjects;
import dev.entanglement.hibernate.internal.core.Ticker;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.RejectReason;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import org.jboss.logging.Logger;

/**
 * The ephemeral objects of a node, its own and those received, in memory only: the facade the
 * node calls, which wires the parts (see {@code docs/ephemeral.md}) and runs the receive checks
 * in their order (shape, owner, removed owners, policies, decoding) before the table decides.
 *
 * <ul>
 *   <li>{@link EphemeralTypes}: the registered record types and their codecs;
 *   <li>{@link EphemeralView}: the application's {@link EphemeralObjects} of one type;
 *   <li>{@link EphemeralTable}: the replicated state and its rules (pure), with its
 *       {@link EphemeralExpiry} (time to live in O(log n) per object);
 *   <li>{@link EphemeralFanout}: sends to the peers' outboxes and listener events, off the lock.
 * </ul>
 *
 * <h2>Concurrency</h2>
 * {@code lock} guards the table (and so its expiry); the table hands its effects to the fan-out
 * while it is held, which only queues them. Policies ({@link Host#receiveDenied} and
 * {@link Host#receiveObjectDenied}) are asked outside it. {@code views} is a concurrent map;
 * registrations take {@code lock} so that objects received meanwhile are decoded.
 */
public final class EphemeralStore {
  private static final Logger LOG = Logger.getLogger(EphemeralStore.class);

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

  private final Host host;
  private final Object lock = new Object();
  private final EphemeralTypes types;
  private final EphemeralFanout fanout;
  private final EphemeralTable<PeerConnection> table; // guarded by lock
  private final Map<Class<?>, EphemeralView<?>> views = new ConcurrentHashMap<>();

  /** @param pool runs the sends and the listener callbacks (each kept in order) */
  public EphemeralStore(Host host, Executor pool) {
    this(host, pool, Ticker.system(), UndecodedBound.DEFAULT_PER_OWNER, UndecodedBound.DEFAULT_TOTAL);
  }

  /** @param undecodedPerOwner and {@code undecodedTotal}: the {@link UndecodedBound} on objects of types not registered here */
  EphemeralStore(Host host, Executor pool, Ticker ticker, int undecodedPerOwner, int undecodedTotal) {
    this.host = host;
    this.types = new EphemeralTypes(host::isEntity);
    this.fanout = new EphemeralFanout(host.nodeName(), host::connections, pool);
    this.table = new EphemeralTable<>(host.nodeName(), System.currentTimeMillis(), ticker,
        new UndecodedBound(host.nodeName(), undecodedPerOwner, undecodedTotal), fanout);
  }

  /**
   * Registers a record type; registering it again returns the same objects (with another time to
   * live it is refused). Objects of it received before are decoded now.
   *
   * @throws IllegalArgumentException naming the type and the problem
   */
  @SuppressWarnings("unchecked")
  public <T> EphemeralObjects<T> register(Class<T> type, Duration ttl) {
    synchronized (lock) {
      EphemeralTypes.Type<T> registered = types.register(type, ttl);
      EphemeralView<?> view = views.get(type);
      if (view == null) {
        table.decodeHeld(registered.name(), change -> decodeHeld(registered, change));
        view = new EphemeralView<>(registered, lock, table, fanout);
        views.put(type, view);
      }
      return (EphemeralObjects<T>) view;
    }
  }

  /** The record an ephemeral change carries, or null (a removal, a type not registered here, a value that does not fit). */
  public Object decoded(Change change) {
    return types.decoded(change);
  }

  /** The Java type registered under a wire name, or null. */
  public Class<?> typeNamed(String name) {
    return types.javaTypeNamed(name);
  }

  /** Applies an ephemeral change from a peer; returns its outcome (index left to the caller). Never throws. */
  public Outcome apply(String peer, Change change) {
    Outcome invalid = table.invalid(change); // reads final fields only
    if (invalid != null) {
      return invalid;
    }
    String removedBy = host.removedBy(change.getOwner());
    if (removedBy != null) {
      return rejected(RejectReason.POLICY, "owner '%s' was removed by an operator at '%s'; its objects are not accepted"
          .formatted(change.getOwner(), removedBy));
    }
    // a type not registered here is kept undecoded (within the table's bounds): the node relays
    // it, and decodes it once the application registers the type
    EphemeralTypes.Type<?> registered = types.named(change.getEntity());
    String denial = host.receiveDenied(peer, registered == null ? null : registered.javaType(), change);
    if (denial != null) {
      return rejected(RejectReason.POLICY, denial);
    }
    Object value = null;
    if (change.getOperation() == Operation.UPSERT && registered != null) { // a removal or withdrawal has no record
      try {
        value = registered.decode(change);
      } catch (DecodeException e) {
        return rejected(e.reason(), e.getMessage());
      }
      Object stored;
      synchronized (lock) {
        stored = table.value(change.getEntity(), change.getId().getText());
      }
      denial = host.receiveObjectDenied(peer, registered.javaType(), change, value, stored);
      if (denial != null) {
        return rejected(RejectReason.POLICY, denial);
      }
    }
    PeerConnection from = host.connection(peer);
    if (from == null) {
      return ALREADY_CURRENT; // the stream has ended meanwhile: nothing may depend on it
    }
    synchronized (lock) {
      if (from.state() == PeerConnection.State.CLOSED) {
        return ALREADY_CURRENT; // ended meanwhile; disconnected() runs after this, or has run
      }
      return table.receive(peer, from, change, value);
    }
  }

  /** A peer's stream is open: it gets every object this node knows but its own and those it sent here. */
  public void connected(PeerConnection connection) {
    String peer = connection.peerName();
    if (peer == null) {
      return;
    }
    synchronized (lock) {
      table.catchUp(peer, connection);
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
  public void disconnected(PeerConnection connection) {
    String peer = connection.peerName();
    int dropped;
    synchronized (lock) {
      dropped = table.sourceEnded(peer, connection);
    }
    if (dropped > 0) {
      LOG.debugf("Node '%s' dropped %d ephemeral objects that came from peer '%s'", host.nodeName(), dropped, peer);
    }
  }

  /** An operator removed an owner: its objects go (every node hears of the removal itself). */
  public void ownerRemoved(String owner) {
    synchronized (lock) {
      table.ownerRemoved(owner);
    }
  }

  /**
   * Drops objects whose time to live passed, this node's own too (an owner keeps an object alive
   * by putting it again). Looks only at the objects due. Every node does this by itself: no
   * message is sent.
   */
  public void expire() {
    synchronized (lock) {
      table.expire();
    }
  }

  /** Completes once every send queued so far has reached the peers' outboxes. */
  public CompletableFuture<Void> queuedSends() {
    return fanout.queuedSends();
  }

  /** How many objects this node knows, of every type (registered here or not). */
  public int size() {
    synchronized (lock) {
      return table.size();
    }
  }

  private Object decodeHeld(EphemeralTypes.Type<?> registered, Change change) {
    try {
      return registered.decode(change);
    } catch (DecodeException e) {
      LOG.warnf("Ephemeral %s '%s' of '%s' does not fit the type registered at node '%s': %s", registered.name(),
          change.getId().getText(), change.getOwner(), host.nodeName(), e.getMessage());
      return null;
    }
  }
}
