package dev.entanglement.hibernate.internal.transition;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.entanglement.hibernate.Transition;
import dev.entanglement.hibernate.TransitionBrokenException;
import dev.entanglement.hibernate.TransitionEvent;
import dev.entanglement.hibernate.TransitionListener;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.TransitionPhase;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * The transitions one node knows of: at most one per object (a new one breaks the previous),
 * each with its provisional attribute values. Updates are flooded to every peer but the one they
 * came from; a sequence number per transition drops copies that arrive over a second path. A
 * transition ends at this node when the owner's committed state of the object (applied here, or
 * committed here by the owner) carries the transition's values, and breaks when it carries
 * others. Nothing here touches a database except reading the state a transition starts from.
 *
 * <h2>Concurrency</h2>
 * The maps are guarded by {@code this}; nothing is sent, read or called back while holding it.
 * Listener callbacks run on {@code callbacks}, a serial executor, so they arrive in order.
 */
public final class Transitions {
  private static final Logger LOG = Logger.getLogger(Transitions.class);
  private static final int REMEMBERED_ENDED = 10_000;

  /** What transitions need from the node. */
  public interface Host {
    String nodeName();

    /** The node that decides the object: this node's name if it owns it. */
    String ownerOf(EntangledType type, String key);

    /** This node's bookkeeping row of the object, or null. */
    ObjectRow heldRow(EntangledType type, String idText);

    /** Sends to every connected peer except {@code exceptPeer} (null: to all). */
    void flood(String exceptPeer, Envelope envelope);

    /** A detached copy of the object as this node holds it, or null. */
    Object load(EntangledType type, Object id);

    /** The provisional values decoded onto the object's current state, by attribute name. */
    Map<String, Object> decode(EntangledType type, Object id, List<Attribute> attributes) throws DecodeException;

    /** Commits a change of the object where its owner is (locally or as an update request). */
    CompletableFuture<Object> commit(EntangledType type, Object id, Consumer<Object> change);
  }

  /** One transition this node knows of. */
  private static final class Active {
    final String origin;
    final long transitionId;
    final EntangledType type;
    final Object id;
    int sequence;
    Map<String, Value> values = Map.of();
    List<Attribute> attributes = List.of();
    final Local<?> local;

    Active(String origin, long transitionId, EntangledType type, Object id, Local<?> local) {
      this.origin = origin;
      this.transitionId = transitionId;
      this.type = type;
      this.id = id;
      this.local = local;
    }

    String name() {
      return origin + ':' + transitionId;
    }
  }

  private final EntangledModel model;
  private final Host host;
  private final Executor callbacks;
  private final List<TransitionListener> listeners = new CopyOnWriteArrayList<>();
  private final AtomicLong nextId = new AtomicLong();
  @GuardedBy("this")
  private final Map<String, Active> byObject = new HashMap<>();
  /** Transitions that ended or broke here, so late copies are ignored. */
  @GuardedBy("this")
  private final Map<String, Boolean> over = new LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
      return size() > REMEMBERED_ENDED;
    }
  };

  public Transitions(EntangledModel model, Host host, Executor callbacks) {
    this.model = model;
    this.host = host;
    this.callbacks = callbacks;
  }

  public void addListener(TransitionListener listener) {
    listeners.add(listener);
  }

  public void removeListener(TransitionListener listener) {
    listeners.remove(listener);
  }

  /** The transition in progress on an object, as "origin:id", or null. */
  public synchronized String describe(String key) {
    Active active = byObject.get(key);
    return active == null ? null : active.name();
  }

  /** How many transitions this node tracks now. */
  public synchronized int active() {
    return byObject.size();
  }

  // ---- this node's transitions ---------------------------------------------------------------

  public <T> Transition<T> start(Class<T> javaType, EntangledType type, Object id) {
    String key = type.key(type.idText(id));
    Object copy = host.load(type, id);
    if (copy == null) {
      throw new IllegalArgumentException("node '%s' has no %s to start a transition on".formatted(host.nodeName(), key));
    }
    ObjectRow row = host.heldRow(type, type.idText(id));
    Local<T> local = new Local<>(javaType, type, id, key, copy, row);
    Active active = new Active(host.nodeName(), nextId.incrementAndGet(), type, id, local);
    local.active = active;
    Active previous;
    synchronized (this) {
      previous = byObject.put(key, active);
      if (previous != null) {
        over.put(previous.name(), Boolean.TRUE);
      }
    }
    if (previous != null) {
      broke(previous, "transition %s of %s was broken by transition %s".formatted(previous.name(), key, active.name()));
    }
    local.send(TransitionPhase.PROVISIONAL, List.of());
    return local;
  }

  /** A transition this node started. */
  private final class Local<T> implements Transition<T> {
    final Class<T> javaType;
    final EntangledType type;
    final Object id;
    final String key;
    final Object copy;
    final Object[] base;
    final long baseEpoch;
    final long baseSerial;
    final String owner;
    final List<Consumer<? super T>> changes = new ArrayList<>();
    final CompletableFuture<T> outcome = new CompletableFuture<>();
    Active active;
    int sequence;

    Local(Class<T> javaType, EntangledType type, Object id, String key, Object copy, ObjectRow row) {
      this.javaType = javaType;
      this.type = type;
      this.id = id;
      this.key = key;
      this.copy = copy;
      this.base = type.persister().getValues(copy).clone();
      this.baseEpoch = row == null ? 0 : row.epoch();
      this.baseSerial = row == null ? 0 : row.serial();
      this.owner = host.ownerOf(type, key);
    }

    @Override
    public long id() {
      return active.transitionId;
    }

    @Override
    public synchronized Transition<T> update(Consumer<? super T> change) {
      if (outcome.isDone()) {
        throw new IllegalStateException("transition %s of %s is over".formatted(active.name(), key));
      }
      change.accept(javaType.cast(copy));
      changes.add(change);
      List<Attribute> attributes = new ArrayList<>();
      type.changedAttributes(base, type.persister().getValues(copy))
          .forEach((name, value) -> attributes.add(Attribute.newBuilder().setName(name).setValue(value).build()));
      synchronized (Transitions.this) {
        if (byObject.get(key) != active) {
          return this; // broken meanwhile; the outcome says so
        }
        record(active, attributes);
      }
      send(TransitionPhase.PROVISIONAL, attributes);
      announce(active, TransitionListener::provisional);
      return this;
    }

    @Override
    public CompletableFuture<T> commit() {
      List<Consumer<? super T>> replay;
      synchronized (this) {
        replay = List.copyOf(changes);
      }
      host.commit(type, id, entity -> replay.forEach(c -> c.accept(javaType.cast(entity))))
          .whenComplete((result, failure) -> {
            if (failure != null && !outcome.isDone()) {
              Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                  ? failure.getCause() : failure;
              if (endHere(active)) {
                send(TransitionPhase.CANCELLED, List.of());
                announce(active, TransitionListener::broken);
              }
              outcome.completeExceptionally(cause);
            }
          });
      return outcome;
    }

    @Override
    public void cancel() {
      if (endHere(active)) {
        send(TransitionPhase.CANCELLED, List.of());
        announce(active, TransitionListener::broken);
        outcome.completeExceptionally(new TransitionBrokenException(
            "transition %s of %s was cancelled by '%s'".formatted(active.name(), key, host.nodeName())));
      }
    }

    @Override
    public CompletableFuture<T> outcome() {
      return outcome;
    }

    synchronized void send(TransitionPhase phase, List<Attribute> attributes) {
      TransitionUpdate update = TransitionUpdate.newBuilder()
          .setOrigin(host.nodeName()).setTransitionId(active.transitionId).setSequence(++sequence)
          .setEntity(type.name()).setId(type.idCodec().encode(id)).setOwner(owner)
          .setBaseEpoch(baseEpoch).setBaseSerial(baseSerial).setPhase(phase).addAllAttributes(attributes)
          .build();
      synchronized (Transitions.this) {
        active.sequence = sequence;
      }
      host.flood(null, Envelope.newBuilder().setTransition(update).build());
    }

    void ended() {
      outcome.complete(javaType.cast(host.load(type, id)));
    }
  }

  /** Removes a transition if it is still the object's current one; returns whether it was. */
  private boolean endHere(Active active) {
    synchronized (this) {
      String key = active.type.key(active.type.idText(active.id));
      if (byObject.get(key) != active) {
        return false;
      }
      byObject.remove(key);
      over.put(active.name(), Boolean.TRUE);
      return true;
    }
  }

  // ---- other nodes' transitions ----------------------------------------------------------------

  /** A transition message from a peer: tracked, shown to listeners and flooded on. */
  public void received(String peer, TransitionUpdate update) {
    EntangledType type = model.byName(update.getEntity());
    if (type == null || update.getOrigin().equals(host.nodeName())) {
      return; // not replicated here, or this node's own coming back over a loop
    }
    Object id;
    try {
      id = type.idCodec().decode(update.getId(), type.name() + " id");
    } catch (DecodeException e) {
      LOG.debugf("Ignoring a transition from peer '%s' with a bad id: %s", peer, e.getMessage());
      return;
    }
    if (id == null) {
      return;
    }
    String key = type.key(type.idText(id));
    String name = update.getOrigin() + ':' + update.getTransitionId();
    boolean known;
    synchronized (this) {
      if (over.containsKey(name)) {
        return;
      }
      Active current = byObject.get(key);
      known = current != null && current.name().equals(name);
      if (known && update.getSequence() <= current.sequence) {
        return; // a copy over another path
      }
    }
    if (!known && update.getPhase() == TransitionPhase.PROVISIONAL) {
      ObjectRow row = host.heldRow(type, type.idText(id));
      if (row != null && (row.epoch() > update.getBaseEpoch()
          || row.epoch() == update.getBaseEpoch() && row.serial() > update.getBaseSerial())) {
        synchronized (this) {
          over.put(name, Boolean.TRUE); // the object changed since the transition started: it is over
        }
        return;
      }
    }
    Active broken = null;
    Active current;
    synchronized (this) {
      current = byObject.get(key);
      if (current == null || !current.name().equals(name)) {
        if (update.getPhase() == TransitionPhase.CANCELLED) {
          over.put(name, Boolean.TRUE);
          current = null;
        } else {
          broken = current;
          if (broken != null) {
            over.put(broken.name(), Boolean.TRUE);
          }
          current = new Active(update.getOrigin(), update.getTransitionId(), type, id, null);
          byObject.put(key, current);
        }
      }
      if (current != null) {
        if (update.getPhase() == TransitionPhase.CANCELLED) {
          byObject.remove(key);
          over.put(name, Boolean.TRUE);
        } else {
          record(current, update.getAttributesList());
        }
        current.sequence = update.getSequence();
      }
    }
    host.flood(peer, Envelope.newBuilder().setTransition(update).build());
    if (current == null) {
      return; // cancelled before it was seen here
    }
    if (broken != null) {
      broke(broken, "transition %s of %s was broken by transition %s".formatted(broken.name(), key, name));
    }
    if (update.getPhase() == TransitionPhase.CANCELLED) {
      announce(current, TransitionListener::broken);
    } else {
      announce(current, TransitionListener::provisional);
    }
  }

  // ---- commits -----------------------------------------------------------------------------

  /** The owner's state of an object was committed here (applied, or decided by this node). */
  public void committed(String key, Change change) {
    Active active;
    synchronized (this) {
      if (byObject.isEmpty()) {
        return;
      }
      active = byObject.remove(key);
      if (active == null) {
        return;
      }
      over.put(active.name(), Boolean.TRUE);
    }
    Map<String, Value> committed = new HashMap<>();
    for (Attribute attribute : change.getAttributesList()) {
      committed.put(attribute.getName(), attribute.getValue());
    }
    List<String> different = new ArrayList<>();
    for (Map.Entry<String, Value> provisional : active.values.entrySet()) {
      if (!provisional.getValue().equals(committed.get(provisional.getKey()))) {
        different.add(provisional.getKey());
      }
    }
    if (change.getOperation() == Operation.UPSERT && different.isEmpty()) {
      announce(active, TransitionListener::ended);
      if (active.local != null) {
        callbacks.execute(active.local::ended);
      }
    } else {
      broke(active, change.getOperation() == Operation.DELETE
          ? "transition %s of %s was broken: the owner '%s' deleted the object".formatted(active.name(), key, change.getOwner())
          : change.getOperation() == Operation.WITHDRAW
          ? "transition %s of %s was broken: the object was withdrawn from this node".formatted(active.name(), key)
          : "transition %s of %s was broken: the owner '%s' committed other values of %s".formatted(active.name(), key,
              change.getOwner(), String.join(", ", different)));
    }
  }

  private void broke(Active active, String message) {
    LOG.debugf("%s", message);
    announce(active, TransitionListener::broken);
    if (active.local != null) {
      active.local.outcome.completeExceptionally(new TransitionBrokenException(message));
    }
  }

  private static void record(Active active, List<Attribute> attributes) {
    Map<String, Value> values = new LinkedHashMap<>();
    for (Attribute attribute : attributes) {
      values.put(attribute.getName(), attribute.getValue());
    }
    active.values = values;
    active.attributes = List.copyOf(attributes);
  }

  @FunctionalInterface
  private interface Callback {
    void call(TransitionListener listener, TransitionEvent event);
  }

  private void announce(Active active, Callback callback) {
    if (listeners.isEmpty()) {
      return;
    }
    List<Attribute> attributes;
    synchronized (this) {
      attributes = active.attributes;
    }
    callbacks.execute(() -> {
      Map<String, Object> values;
      try {
        values = host.decode(active.type, active.id, attributes);
      } catch (DecodeException | RuntimeException e) {
        LOG.debugf("Transition %s: provisional values not readable here: %s", active.name(), e.getMessage());
        return;
      }
      TransitionEvent event = new TransitionEvent(active.type.persister().getMappedClass(), active.id, active.origin,
          active.transitionId, values);
      for (TransitionListener listener : listeners) {
        try {
          callback.call(listener, event);
        } catch (RuntimeException e) {
          LOG.warnf(e, "A transition listener failed on %s", active.name());
        }
      }
    });
  }
}
