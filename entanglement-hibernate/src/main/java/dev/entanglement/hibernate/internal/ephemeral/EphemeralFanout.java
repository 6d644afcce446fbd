package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.hibernate.EphemeralObjects;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.proto.v1.Change;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Carries the effects of the {@link EphemeralTable} out of its lock: changes to the peers'
 * outboxes, and events to the applications' listeners, each on its own ordered queue, so neither
 * policies (asked in the outboxes) nor application code run under the store's lock (a policy or
 * listener may take the application's locks while an application thread holding them waits to
 * put).
 *
 * <p><b>Queues.</b> Both are {@link CoalescingQueue}s bounded at {@link #BOUND} waiting entries,
 * keyed by object. Sends: every change in order; past the bound, each object keeps only its
 * latest change per destination (the outboxes coalesce the same way, and receivers order states
 * by serial). Listener events: every event in order; past the bound, each object's events fold
 * into the one that takes a listener from what it was last told to the object's latest state
 * ({@code added}, {@code updated}, {@code removed}, or nothing for an object that came and went).
 * A listener is thus never more than one event per object behind, and never skips the final
 * state.
 *
 * <h2>Concurrency</h2>
 * {@code listeners} is a concurrent map of copy-on-write lists. The queues guard themselves;
 * deliveries run on the pool, one at a time per queue.
 */
final class EphemeralFanout implements EphemeralTable.Events<PeerConnection> {
  private static final Logger LOG = Logger.getLogger(EphemeralFanout.class);
  /** Entries waiting in each queue before it coalesces per object. */
  static final int BOUND = 10_000;

  /** A change for one peer ({@code to}), or for all but {@code except} and the owner ({@code to} null). */
  private record Send(PeerConnection to, String except, Outgoing message) {}

  /**
   * What a listener should be told of an object: {@code knownBefore} whether it knew the object
   * when this event (or the first one folded into it) was queued, {@code present} whether it
   * exists after it.
   */
  private record Event(String type, String id, boolean knownBefore, boolean present, Object value, String owner) {}

  private final String node;
  private final Supplier<Collection<PeerConnection>> connections;
  private final Map<String, List<EphemeralObjects.Listener<?>>> listeners = new ConcurrentHashMap<>();
  private final CoalescingQueue<String, List<Send>> sends;
  private final CoalescingQueue<String, Event> callbacks;

  /**
   * @param connections the open, handshaken connections, read when a change is sent
   * @param pool runs the sends and the listener callbacks (each kept in order)
   */
  EphemeralFanout(String node, Supplier<Collection<PeerConnection>> connections, Executor pool) {
    this.node = node;
    this.connections = connections;
    this.sends = new CoalescingQueue<>("ephemeral sends", pool, BOUND, EphemeralFanout::latestPerDestination,
        this::deliver);
    this.callbacks = new CoalescingQueue<>("ephemeral listener events", pool, BOUND,
        (older, newer) -> new Event(newer.type(), newer.id(), older.knownBefore(), newer.present(), newer.value(),
            newer.owner()),
        this::tell);
  }

  // ---- sends ------------------------------------------------------------------------------------

  @Override
  public void send(String exceptPeer, Change change) {
    Outgoing message = outgoing(change);
    sends.add(message.key(), List.of(new Send(null, exceptPeer, message)));
  }

  @Override
  public void offer(PeerConnection to, Change change) {
    Outgoing message = outgoing(change);
    sends.add(message.key(), List.of(new Send(to, null, message)));
  }

  /** Completes once every send queued so far has reached the peers' outboxes. */
  CompletableFuture<Void> queuedSends() {
    return sends.delivered();
  }

  private void deliver(List<Send> batch) {
    for (Send send : batch) {
      if (send.to() != null) {
        send.to().offer(send.message());
        continue;
      }
      String owner = send.message().change().getOwner();
      for (PeerConnection connection : connections.get()) {
        String to = connection.peerName();
        if (to != null && !to.equals(send.except()) && !to.equals(owner)) {
          connection.offer(send.message()); // the policies decide there, per peer
        }
      }
    }
  }

  /** One object's sends, older first: a later one replaces an earlier one to the same destination. */
  private static List<Send> latestPerDestination(List<Send> older, List<Send> newer) {
    List<Send> merged = new ArrayList<>(older);
    for (Send send : newer) {
      merged.removeIf(earlier -> earlier.to() == send.to());
      merged.add(send);
    }
    return merged;
  }

  private static Outgoing outgoing(Change change) {
    return new Outgoing(key(change.getEntity(), change.getId().getText()), 0, true, change);
  }

  private static String key(String type, String id) {
    return "~" + type + '#' + id;
  }

  // ---- listeners --------------------------------------------------------------------------------

  void subscribe(String type, EphemeralObjects.Listener<?> listener) {
    listeners.computeIfAbsent(type, t -> new CopyOnWriteArrayList<>()).add(listener);
  }

  void unsubscribe(String type, EphemeralObjects.Listener<?> listener) {
    List<EphemeralObjects.Listener<?>> of = listeners.get(type);
    if (of != null) {
      of.remove(listener);
    }
  }

  @Override
  public void added(String type, String id, Object value, String owner) {
    queue(new Event(type, id, false, true, value, owner));
  }

  @Override
  public void updated(String type, String id, Object value, String owner) {
    queue(new Event(type, id, true, true, value, owner));
  }

  @Override
  public void removed(String type, String id, String owner, RemovalCause cause) {
    LOG.tracef("Ephemeral %s '%s' of '%s' is gone at node '%s' (%s)", type, id, owner, node, cause);
    queue(new Event(type, id, true, false, null, owner));
  }

  private void queue(Event event) {
    List<EphemeralObjects.Listener<?>> of = listeners.get(event.type());
    if (of == null || of.isEmpty()) {
      return; // a type not registered here has no listeners, nor a decoded value
    }
    callbacks.add(key(event.type(), event.id()), event);
  }

  @SuppressWarnings("unchecked")
  private void tell(Event event) {
    if (!event.knownBefore() && !event.present()) {
      return; // came and went while the listeners were behind: they never knew it
    }
    String what = !event.present() ? "removed" : event.knownBefore() ? "updated" : "added";
    for (EphemeralObjects.Listener<?> each : listeners.getOrDefault(event.type(), List.of())) {
      EphemeralObjects.Listener<Object> listener = (EphemeralObjects.Listener<Object>) each;
      try {
        if (!event.present()) {
          listener.removed(event.id(), event.owner());
        } else if (event.knownBefore()) {
          listener.updated(event.id(), event.value(), event.owner());
        } else {
          listener.added(event.id(), event.value(), event.owner());
        }
      } catch (RuntimeException e) {
        LOG.warnf(e, "A listener of ephemeral %s failed when '%s' was %s at node '%s'", event.type(), event.id(), what,
            node);
      }
    }
  }
}
