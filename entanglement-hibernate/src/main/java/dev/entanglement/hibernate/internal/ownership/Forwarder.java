package dev.entanglement.hibernate.internal.ownership;

import dev.entanglement.hibernate.internal.model.Values;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.entanglement.hibernate.RefusalReason;
import dev.entanglement.hibernate.UpdateRequestException;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.RequestStatus;
import dev.entanglement.proto.v1.UpdateRequest;
import dev.entanglement.proto.v1.Value;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import dev.entanglement.hibernate.internal.core.SerialExecutor;
import org.jboss.logging.Logger;

/**
 * Routes update requests towards owners and their outcomes back: this node's own requests
 * (with the futures the application waits on) and requests relayed for other nodes. A request
 * waits, merged with later requests for the same object, while no route to its owner exists; it
 * fails with a typed exception when refused, when its connection ends, or when no answer comes
 * within the timeout. It never completes as a success unless the owner applied it, and it
 * completes only once this node's own copy has reached the owner's resulting state.
 *
 * <h2>Concurrency</h2>
 * All state is guarded by {@code lock}; futures are completed outside it, on {@code settling}, a
 * serial executor over the pool: settling reads the database (this node's copy), and one read at
 * a time keeps the plugin's use of the connection pool bounded however many requests complete.
 */
public final class Forwarder {
  private static final Logger LOG = Logger.getLogger(Forwarder.class);

  /** What the forwarder needs from the node. */
  public interface Host {
    String nodeName();

    /** The peer towards an owner, or null when there is no route. */
    String routeTo(String owner);

    /** Sends an envelope to a connected peer; false if it is not connected. */
    boolean send(String peer, Envelope envelope);

    /** The owner's serial of this node's copy of an object, or -1 (blocking database read). */
    long heldSerial(String key);

    /** Loads this node's copy of an object, or null. */
    Object load(ForwardRequest request);

    ScheduledExecutorService scheduler();

    Executor pool();

    Duration timeout();
  }

  private static final class Pending {
    final long id;
    ForwardRequest request;
    final List<CompletableFuture<Object>> futures = new ArrayList<>();
    String via;
    long doneSerial = -1;
    ScheduledFuture<?> timeout;

    Pending(long id, ForwardRequest request) {
      this.id = id;
      this.request = request;
    }
  }

  private record Hop(String fromPeer, long theirId, String toPeer) {}

  private final Host host;
  private final SerialExecutor settling;
  private final Object lock = new Object();
  @GuardedBy("lock")
  private long nextId;
  /** By request id. */
  @GuardedBy("lock")
  private final Map<Long, Pending> pending = new HashMap<>();
  /** By object key. */
  @GuardedBy("lock")
  private final Map<String, Pending> unsent = new LinkedHashMap<>();
  /** By object key. */
  @GuardedBy("lock")
  private final Map<String, List<Pending>> waitingForCopy = new HashMap<>();
  /** Relayed requests by our id. */
  @GuardedBy("lock")
  private final Map<Long, Hop> hops = new HashMap<>();
  @GuardedBy("lock")
  private ScheduledFuture<?> retry;

  public Forwarder(Host host) {
    this.host = host;
    this.settling = new SerialExecutor(host.pool());
  }

  /** Sends (or queues) a request of this node; the future completes with the owner's result. */
  public CompletableFuture<Object> submit(ForwardRequest request) {
    CompletableFuture<Object> future = new CompletableFuture<>();
    synchronized (lock) {
      Pending waiting = unsent.get(request.key());
      if (waiting != null && waiting.request.kind() == request.kind()) {
        // not sent yet: one request carries both (union of attributes, the later value wins)
        Map<String, Value> merged = new LinkedHashMap<>(waiting.request.attributes());
        merged.putAll(request.attributes());
        waiting.request = new ForwardRequest(request.type(), request.id(), request.key(), request.owner(),
            request.kind(), merged, waiting.request.expectedVersion());
        waiting.futures.add(future);
        return future;
      }
      Pending p = new Pending(++nextId, request);
      p.futures.add(future);
      pending.put(p.id, p);
      unsent.put(request.key(), p);
      long timeout = host.timeout().toMillis();
      p.timeout = host.scheduler().schedule(() -> timedOut(p), timeout, TimeUnit.MILLISECONDS);
    }
    host.pool().execute(this::flush);
    return future;
  }

  /** Sends the requests waiting for a route that now has one. */
  public void flush() {
    List<Pending> toSend = new ArrayList<>();
    synchronized (lock) {
      for (Iterator<Pending> it = unsent.values().iterator(); it.hasNext(); ) {
        Pending p = it.next();
        String route = host.routeTo(p.request.owner());
        if (route != null) {
          p.via = route;
          it.remove();
          toSend.add(p);
        }
      }
    }
    for (Pending p : toSend) {
      if (!host.send(p.via, Envelope.newBuilder().setUpdateRequest(toWire(p)).build())) {
        // the route's stream is not open yet (e.g. still handshaking): try again shortly
        synchronized (lock) {
          p.via = null;
          unsent.putIfAbsent(p.request.key(), p);
        }
      }
    }
    synchronized (lock) {
      if (!unsent.isEmpty() && (retry == null || retry.isDone())) {
        retry = host.scheduler().schedule(() -> host.pool().execute(this::flush), 100, TimeUnit.MILLISECONDS);
      }
    }
  }

  private UpdateRequest toWire(Pending p) {
    ForwardRequest r = p.request;
    UpdateRequest.Builder wire = UpdateRequest.newBuilder()
        .setRequestId(p.id).setOrigin(host.nodeName()).setKind(r.kind())
        .setEntity(r.type().name()).setId(r.type().idCodec().encode(r.id())).setOwner(r.owner());
    r.attributes().forEach((name, value) -> wire.addAttributes(Attribute.newBuilder().setName(name).setValue(value)));
    if (r.expectedVersion() != null) {
      wire.setExpectedVersion(r.expectedVersion());
    }
    return wire.build();
  }

  /** Forwards a request for another owner received from a peer, one hop on. */
  public void relay(String fromPeer, UpdateRequest request) {
    String route = host.routeTo(request.getOwner());
    if (route == null) {
      answer(fromPeer, request.getRequestId(), RequestStatus.UNREACHABLE, null,
          "node '%s' has no route to owner '%s'".formatted(host.nodeName(), request.getOwner()));
      return;
    }
    if (route.equals(fromPeer)) {
      answer(fromPeer, request.getRequestId(), RequestStatus.REFUSED, dev.entanglement.proto.v1.RejectReason.NOT_OWNER,
          ("an update request for owner '%s' came to node '%s' from the owner's own direction "
              + "(peer '%s'); requests travel towards the owner").formatted(request.getOwner(), host.nodeName(), fromPeer));
      return;
    }
    long id;
    synchronized (lock) {
      id = ++nextId;
      hops.put(id, new Hop(fromPeer, request.getRequestId(), route));
    }
    if (!host.send(route, Envelope.newBuilder().setUpdateRequest(request.toBuilder().setRequestId(id)).build())) {
      synchronized (lock) {
        hops.remove(id);
      }
      answer(fromPeer, request.getRequestId(), RequestStatus.UNREACHABLE, null,
          "node '%s' lost its route to owner '%s'".formatted(host.nodeName(), request.getOwner()));
    }
  }

  /** Answers a request received from a peer (owner side, or a hop that cannot go on). */
  public void answer(String peer, long requestId, RequestStatus status,
      dev.entanglement.proto.v1.RejectReason reason, String message) {
    RequestOutcome.Builder outcome = RequestOutcome.newBuilder().setRequestId(requestId).setStatus(status);
    if (reason != null) {
      outcome.setReason(reason);
    }
    if (message != null) {
      outcome.setMessage(message);
    }
    host.send(peer, Envelope.newBuilder().setRequestOutcome(outcome).build());
  }

  public void answer(String peer, RequestOutcome outcome) {
    host.send(peer, Envelope.newBuilder().setRequestOutcome(outcome).build());
  }

  /** An outcome came back from a peer: relay it, or settle this node's request. */
  public void outcome(String fromPeer, RequestOutcome outcome) {
    Pending p;
    synchronized (lock) {
      Hop hop = hops.remove(outcome.getRequestId());
      if (hop != null) {
        host.send(hop.fromPeer(), Envelope.newBuilder()
            .setRequestOutcome(outcome.toBuilder().setRequestId(hop.theirId())).build());
        return;
      }
      p = pending.get(outcome.getRequestId());
      if (p == null || !fromPeer.equals(p.via)) {
        return;
      }
      if (outcome.getStatus() != RequestStatus.DONE) {
        pending.remove(p.id);
      }
    }
    String what = p.request.key();
    String owner = p.request.owner();
    switch (outcome.getStatus()) {
      case DONE -> awaitCopy(p, outcome.getSerial());
      case REFUSED -> fail(p, new UpdateRequestException.Refused(owner, RefusalReason.named(outcome.getReason().name()), outcome.getMessage()));
      case NOT_FOUND -> fail(p, new UpdateRequestException.NotFound(owner, outcome.getMessage()));
      case CONFLICT -> fail(p, new UpdateRequestException.Conflict(owner, outcome.getMessage()));
      default -> fail(p, new UpdateRequestException.OwnerUnreachable(owner,
          outcome.getMessage().isEmpty() ? "owner '%s' of %s cannot be reached".formatted(owner, what) : outcome.getMessage()));
    }
  }

  /** The owner applied it: complete once this node's copy has the result. */
  private void awaitCopy(Pending p, long serial) {
    synchronized (lock) {
      p.doneSerial = serial;
      waitingForCopy.computeIfAbsent(p.request.key(), k -> new ArrayList<>()).add(p);
    }
    settling.execute(() -> {
      long held;
      try {
        held = host.heldSerial(p.request.key());
      } catch (RuntimeException e) {
        // settled when the copy arrives (applied) or at the timeout, with what this node holds then
        LOG.debugf("Could not read this node's copy of %s: %s", p.request.key(), e);
        return;
      }
      if (held >= serial) {
        settle(p);
      }
    });
  }

  /** This node applied changes (from peers): requests waiting for those states are done. */
  public void applied(List<Change> changes) {
    List<Pending> done = new ArrayList<>();
    synchronized (lock) {
      if (waitingForCopy.isEmpty()) {
        return;
      }
      for (Change change : changes) {
        List<Pending> waiting = waitingForCopy.get(change.getEntity() + '#' + keyId(change));
        if (waiting != null) {
          for (Pending p : waiting) {
            if (p.doneSerial >= 0 && p.doneSerial <= change.getSerial()) {
              done.add(p);
            }
          }
        }
      }
    }
    if (!done.isEmpty()) {
      settling.execute(() -> done.forEach(this::settle));
    }
  }

  private static String keyId(Change change) {
    Value id = change.getId();
    return switch (id.getKindCase()) {
      case TEXT -> id.getText();
      case INTEGER -> Long.toString(id.getInteger());
      case UUID -> id.getUuid();
      case DECIMAL -> id.getDecimal();
      case TEMPORAL -> id.getTemporal();
      case ENUM_CONSTANT -> id.getEnumConstant();
      default -> Values.shortText(id);
    };
  }

  private void settle(Pending p) {
    synchronized (lock) {
      if (pending.remove(p.id) == null) {
        return; // settled already
      }
      List<Pending> waiting = waitingForCopy.get(p.request.key());
      if (waiting != null) {
        waiting.remove(p);
        if (waiting.isEmpty()) {
          waitingForCopy.remove(p.request.key());
        }
      }
      p.timeout.cancel(false);
    }
    Object result;
    try {
      result = p.request.kind() == dev.entanglement.proto.v1.RequestKind.REMOVE ? null : host.load(p.request);
    } catch (RuntimeException e) {
      p.futures.forEach(f -> f.completeExceptionally(e));
      return;
    }
    p.futures.forEach(f -> f.complete(result));
  }

  private void timedOut(Pending p) {
    boolean applied;
    synchronized (lock) {
      if (!pending.containsKey(p.id)) {
        return;
      }
      applied = p.doneSerial >= 0;
      if (!applied) {
        pending.remove(p.id);
        unsent.remove(p.request.key(), p);
      }
    }
    if (applied) {
      // the owner applied it but its result has not reached this node in time: settle with
      // what this node holds now rather than fail a request that succeeded
      LOG.debugf("The result of the request for %s has not arrived yet; completing with the local copy", p.request.key());
      settling.execute(() -> settle(p));
      return;
    }
    fail(p, new UpdateRequestException.OwnerUnreachable(p.request.owner(), (p.via == null
        ? "no route to owner '%s' of %s within %d ms" : "no answer from owner '%s' for %s within %d ms")
        .formatted(p.request.owner(), p.request.key(), host.timeout().toMillis())));
  }

  /** A peer's connection ended: the requests that went through it will get no answer. */
  public void peerGone(String peer) {
    List<Pending> lost = new ArrayList<>();
    List<Hop> broken = new ArrayList<>();
    synchronized (lock) {
      for (Iterator<Pending> it = pending.values().iterator(); it.hasNext(); ) {
        Pending p = it.next();
        if (peer.equals(p.via) && p.doneSerial < 0) {
          it.remove();
          lost.add(p);
        }
      }
      for (Iterator<Hop> it = hops.values().iterator(); it.hasNext(); ) {
        Hop hop = it.next();
        if (hop.fromPeer().equals(peer) || hop.toPeer().equals(peer)) {
          it.remove();
          if (hop.toPeer().equals(peer)) {
            broken.add(hop);
          }
        }
      }
    }
    for (Pending p : lost) {
      p.timeout.cancel(false);
      fail(p, new UpdateRequestException.ConnectionLost(p.request.owner(),
          "the connection to peer '%s' ended before owner '%s' answered the request for %s"
              .formatted(peer, p.request.owner(), p.request.key())));
    }
    for (Hop hop : broken) {
      answer(hop.fromPeer(), hop.theirId(), RequestStatus.UNREACHABLE, null,
          "node '%s' lost its connection to peer '%s' on the way to the owner".formatted(host.nodeName(), peer));
    }
  }

  private void fail(Pending p, UpdateRequestException e) {
    if (p.timeout != null) {
      p.timeout.cancel(false);
    }
    p.futures.forEach(f -> f.completeExceptionally(e));
  }

  /** This node's unsettled requests for one object. */
  public int pendingFor(String key) {
    synchronized (lock) {
      int count = 0;
      for (Pending p : pending.values()) {
        if (p.request.key().equals(key)) {
          count++;
        }
      }
      return count;
    }
  }

  /** Requests of this node not settled yet (sent or waiting for a route). */
  public int pendingCount() {
    synchronized (lock) {
      return pending.size();
    }
  }
}
