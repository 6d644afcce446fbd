package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.TransitionUpdate;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The bounded queue of control messages that go ahead of waiting changes (acks, requests,
 * outcomes, transitions, markers), with a stated policy for each kind when it is full:
 * <ul>
 *   <li>transition updates coalesce per object: a later update of an object replaces the unsent
 *       earlier one and keeps its place, so they are bounded by the objects in transition;</li>
 *   <li>owner removals coalesce per owner;</li>
 *   <li>update requests are capped at {@link #MAX_REQUESTS}: past the cap
 *       {@link PeerStream#reserveRequest} refuses them <em>before</em> they are queued, and the
 *       caller's {@code sendUrgent} returns false, so the forwarder keeps a request of this
 *       node pending and retries it, and answers a relayed one UNREACHABLE to the peer that sent
 *       it; no request is dropped silently;</li>
 *   <li>request outcomes are capped at {@link #MAX_OUTCOMES}, and every kind together at
 *       {@link #MAX_TOTAL} (acks are bounded by the apply window already): past a cap
 *       {@link #offer} answers {@link Offered#OVERFLOW} and the stream is failed with
 *       RESOURCE_EXHAUSTED naming the cap, so both sides see the loss and settle what was in
 *       flight (the forwarder treats the peer as gone).</li>
 * </ul>
 *
 * <h2>Concurrency</h2>
 * Not thread-safe: {@code queue} and {@code counts} are confined to the connection's serial
 * executor.
 */
final class UrgentQueue {
  static final int MAX_REQUESTS = 1024;
  static final int MAX_OUTCOMES = 4096;
  static final int MAX_TOTAL = 16384;

  /** What became of an offered message. */
  enum Offered { QUEUED, COALESCED, OVERFLOW }

  /** Coalescing key or a unique token -> message, in arrival order. */
  private final LinkedHashMap<Object, Envelope> queue = new LinkedHashMap<>();
  private final Map<Envelope.BodyCase, Integer> counts = new EnumMap<>(Envelope.BodyCase.class);

  Offered offer(Envelope envelope) {
    Object key = coalescingKey(envelope);
    if (key != null && queue.containsKey(key)) {
      queue.put(key, envelope); // replaces the unsent one in its place
      return Offered.COALESCED;
    }
    Envelope.BodyCase kind = envelope.getBodyCase();
    if (queue.size() >= MAX_TOTAL || count(kind) >= cap(kind)) {
      return Offered.OVERFLOW;
    }
    queue.put(key != null ? key : new Object(), envelope);
    counts.merge(kind, 1, Integer::sum);
    return Offered.QUEUED;
  }

  /** The oldest message, or null. */
  Envelope poll() {
    Iterator<Envelope> it = queue.values().iterator();
    if (!it.hasNext()) {
      return null;
    }
    Envelope next = it.next();
    it.remove();
    counts.merge(next.getBodyCase(), -1, Integer::sum);
    return next;
  }

  boolean isEmpty() {
    return queue.isEmpty();
  }

  int size() {
    return queue.size();
  }

  int count(Envelope.BodyCase kind) {
    return counts.getOrDefault(kind, 0);
  }

  static int cap(Envelope.BodyCase kind) {
    return switch (kind) {
      case UPDATE_REQUEST -> MAX_REQUESTS;
      case REQUEST_OUTCOME -> MAX_OUTCOMES;
      default -> MAX_TOTAL;
    };
  }

  private static Object coalescingKey(Envelope envelope) {
    return switch (envelope.getBodyCase()) {
      case TRANSITION -> {
        TransitionUpdate t = envelope.getTransition();
        yield new ObjectKey(t.getEntity(), t.getId().toByteString());
      }
      case OWNER_REMOVED -> new RemovedOwner(envelope.getOwnerRemoved().getOwner());
      default -> null;
    };
  }

  private record ObjectKey(String entity, Object id) {}

  private record RemovedOwner(String owner) {}
}
