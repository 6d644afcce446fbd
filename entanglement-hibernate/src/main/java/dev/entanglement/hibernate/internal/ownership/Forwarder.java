package dev.entanglement.hibernate.internal.ownership;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.entanglement.hibernate.PendingRequest;
import dev.entanglement.hibernate.RefusalReason;
import dev.entanglement.hibernate.RequestEvent;
import dev.entanglement.hibernate.UpdateRequestException;
import dev.entanglement.hibernate.internal.core.SerialExecutor;
import dev.entanglement.hibernate.internal.core.Ticker;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.RequestStatus;
import dev.entanglement.proto.v1.UpdateRequest;
import dev.entanglement.proto.v1.Value;
import com.google.protobuf.InvalidProtocolBufferException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.jboss.logging.Logger;

/**
 * Routes update requests towards owners and their outcomes back: this node's own requests
 * (durable, with the futures the application waits on and the request listeners) and requests
 * relayed for other nodes.
 *
 * <p>This node's requests are kept per object in a FIFO and sent one at a time: the next goes
 * once the previous has a final answer, so an update and a delete of the same object reach the
 * owner in the order they were made. A new request merges into the last queued one only when
 * that one was never sent and is of the same kind (union of attributes, the later value wins);
 * otherwise it queues behind. Every request is written to {@code entanglement_pending_request}
 * in the transaction that made it and deleted when it settles; a node reloads its rows at boot.
 *
 * <p>Only DONE, REFUSED, NOT_FOUND and CONFLICT are final. A dropped link, an UNREACHABLE answer
 * (no route at a hop, or the owner's database failing), or no answer within the resend interval
 * (30 s doubling to 5 min) sends the request again, with the same {@code request_key}, once a
 * route exists; the owner answers a repeat with its earlier result. A request that is still
 * unsettled when its lifetime ({@code entanglement.request.lifetime}) ends fails with
 * {@link UpdateRequestException.OwnerUnreachable} if it was never sent, else with
 * {@link UpdateRequestException.OutcomeUnknown}. Expiry and resends are ordered sets of
 * deadlines (wall clock for expiry, which outlives restarts; the ticker for resends), checked
 * by {@link #tick()} every 100 ms; nothing scans every request.
 *
 * <p>Futures and listeners are completed by {@link RequestSettling}; requests of other nodes
 * passing through are the {@link RequestRelay}'s.
 *
 * <h2>Bounds</h2>
 * At most {@code entanglement.request.max_pending} unsettled requests: {@link #hasRoom} is asked
 * before a transaction writes new ones, and beyond it that transaction fails at once naming the
 * setting.
 *
 * <h2>Concurrency</h2>
 * All state is guarded by {@code lock}. Database writes and sends run outside it, on
 * {@code serial} (one at a time, see there); outcomes arrive on pool threads.
 */
public final class Forwarder {
  private static final Logger LOG = Logger.getLogger(Forwarder.class);
  /** How often the deletion of a settled request's row is tried. */
  private static final int SETTLED_TRIES = 10;
  private static final long FIRST_RESEND_NANOS = TimeUnit.SECONDS.toNanos(30);
  private static final long MAX_RESEND_NANOS = TimeUnit.MINUTES.toNanos(5);
  private static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
  private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(30);

  /** What the forwarder needs from the node. */
  public interface Host {
    String nodeName();

    /** The peer towards an owner, or null when there is no route. */
    String routeTo(String owner);

    /** Why no route to an owner exists now (for the message of a request that was never sent). */
    String whyNoRoute(String owner);

    /** Sends an envelope to a connected peer; false if it is not connected. */
    boolean send(String peer, Envelope envelope);

    /** The owner's serial of this node's copy of an object, or -1 (blocking database read). */
    long heldSerial(String key);

    /** Loads this node's copy of an object, or null. */
    Object load(EntangledType type, Object id);

    /** The replicated type of an entity name, or null. */
    EntangledType type(String entityName);

    PendingRequestStore store();

    ScheduledExecutorService scheduler();

    Executor pool();

    /** {@code entanglement.request.lifetime}. */
    Duration lifetime();

    /** {@code entanglement.request.max_pending}. */
    int maxPending();

    /** Wall time (created and expiry instants, which outlive restarts). */
    Clock clock();

    /** Monotonic time (resend intervals and backoff). */
    Ticker ticker();

    /**
     * Requests another member of this node stored settled: their outcome goes where that member
     * reads it. Never throws.
     */
    default void memberSettled(String member, List<String> requestKeys, RequestEvent event) {}
  }

  private static final Comparator<OwnRequest> BY_EXPIRY =
      Comparator.<OwnRequest, Instant>comparing(p -> p.expires).thenComparingLong(p -> p.seq);
  private static final Comparator<OwnRequest> BY_RESEND =
      Comparator.<OwnRequest>comparingLong(p -> p.resendAt).thenComparingLong(p -> p.seq);

  private final Host host;
  private final RequestSettling settling;
  private final RequestEvents events;
  private final AtomicBoolean ticking = new AtomicBoolean();
  /**
   * Runs rounds, the forwarder's database writes and {@link RequestSettling}'s work one at a
   * time: the plugin's use of the application's connection pool for requests stays at one
   * connection however many requests move.
   */
  private final SerialExecutor serial;
  private final Object lock = new Object();
  /** Per-hop ids of this node's attempts and of relayed requests (one space: outcomes name either). */
  private final AtomicLong ids = new AtomicLong();
  private final RequestRelay relay;
  @GuardedBy("lock")
  private long nextSeq;
  @GuardedBy("lock")
  private int count;
  /** Unsettled requests per object, oldest first; the head is the one sent. */
  @GuardedBy("lock")
  private final Map<String, ArrayDeque<OwnRequest>> queues = new HashMap<>();
  /** Object keys whose head waits to be sent, by owner. */
  @GuardedBy("lock")
  private final Map<String, LinkedHashSet<String>> ready = new LinkedHashMap<>();
  /** Heads in flight, by the per-hop id of their attempt. */
  @GuardedBy("lock")
  private final Map<Long, OwnRequest> inFlight = new HashMap<>();
  @GuardedBy("lock")
  private final TreeSet<OwnRequest> byExpiry = new TreeSet<>(BY_EXPIRY);
  @GuardedBy("lock")
  private final TreeSet<OwnRequest> byResend = new TreeSet<>(BY_RESEND);

  public Forwarder(Host host) {
    this.host = host;
    this.events = new RequestEvents(host.nodeName());
    this.serial = new SerialExecutor(host.pool());
    this.settling = new RequestSettling(host, events, serial);
    this.relay = new RequestRelay(host, ids);
  }

  public RequestEvents events() {
    return events;
  }

  /** Whether {@code more} new requests fit under {@code entanglement.request.max_pending}. */
  public boolean hasRoom(int more) {
    synchronized (lock) {
      return count + more <= host.maxPending();
    }
  }

  /**
   * The durable form of a new request of node {@code origin}, with a fresh globally unique key
   * (written by the caller); any member of the node may make it.
   */
  public static PendingRequestStore.Row prepare(String origin, ForwardRequest request, Instant now, Duration lifetime) {
    String key = UUID.randomUUID().toString();
    UpdateRequest.Builder wire = UpdateRequest.newBuilder()
        .setOrigin(origin).setKind(request.kind()).setRequestKey(key)
        .setEntity(request.type().name()).setId(request.type().idCodec().encode(request.id()))
        .setOwner(request.owner());
    request.attributes().forEach((name, value) -> wire.addAttributes(Attribute.newBuilder().setName(name).setValue(value)));
    if (request.expectedVersion() != null) {
      wire.setExpectedVersion(request.expectedVersion());
    }
    return new PendingRequestStore.Row(key, request.type().name(), request.type().idText(request.id()),
        request.owner(), request.kind().name(), wire.build().toByteArray(), now, now.plus(lifetime), 0, false,
        null, null);
  }

  /**
   * Queues a request of this node whose row {@link #prepare} made and the caller stored; the
   * future completes with the owner's result or fails with a typed reason.
   */
  public CompletableFuture<Object> submit(ForwardRequest request, PendingRequestStore.Row row) {
    CompletableFuture<Object> future = new CompletableFuture<>();
    UpdateRequest wire;
    try {
      wire = UpdateRequest.parseFrom(row.request());
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e); // made by prepare()
    }
    enqueue(row, wire, request, future);
    tick();
    return future;
  }

  /** At boot: this node's unsettled requests from the database (no futures; listeners only). */
  public void reload(List<PendingRequestStore.Row> rows) {
    enqueueStored(rows);
    if (!rows.isEmpty()) {
      LOG.infof("Node '%s' reloaded %d unsettled update requests", host.nodeName(), rows.size());
    }
  }

  /** Queues requests other members of this node stored (they hold no links), then sends what can go. */
  public void adopt(List<PendingRequestStore.Row> rows) {
    enqueueStored(rows);
    LOG.debugf("Node '%s' took over %d update requests stored by other members", host.nodeName(), rows.size());
    flush();
  }

  private void enqueueStored(List<PendingRequestStore.Row> rows) {
    for (PendingRequestStore.Row row : rows) {
      try {
        enqueue(row, UpdateRequest.parseFrom(row.request()), null, null);
      } catch (InvalidProtocolBufferException e) {
        LOG.errorf("Node '%s' drops a stored update request it cannot read (%s for %s#%s): %s", host.nodeName(),
            row.requestKey(), row.entity(), row.idText(), e.getMessage());
        host.store().settled(List.of(row.requestKey()));
      }
    }
  }

  private void enqueue(PendingRequestStore.Row row, UpdateRequest wire, ForwardRequest request,
      CompletableFuture<Object> future) {
    synchronized (lock) {
      String objectKey = row.entity() + '#' + row.idText();
      ArrayDeque<OwnRequest> queue = queues.computeIfAbsent(objectKey, k -> new ArrayDeque<>());
      OwnRequest last = queue.peekLast();
      if (last != null && !last.sent && last.wireId < 0 && last.kind == wire.getKind() && !row.sent()
          && java.util.Objects.equals(last.member, row.member())) {
        // never sent: one request carries both (union of attributes, the later value wins)
        last.wire = merge(last.wire, wire);
        if (request != null) {
          last.request = request;
        }
        last.absorbed.add(row.requestKey());
        if (future != null) {
          last.futures.add(future);
        }
        return;
      }
      OwnRequest p = new OwnRequest(row, wire, ++nextSeq);
      p.request = request;
      if (future != null) {
        p.futures.add(future);
      }
      queue.addLast(p);
      count++;
      byExpiry.add(p);
      if (queue.size() == 1) {
        markReady(p);
      }
    }
  }

  private static UpdateRequest merge(UpdateRequest earlier, UpdateRequest later) {
    Map<String, Value> merged = new LinkedHashMap<>();
    earlier.getAttributesList().forEach(a -> merged.put(a.getName(), a.getValue()));
    later.getAttributesList().forEach(a -> merged.put(a.getName(), a.getValue()));
    UpdateRequest.Builder builder = earlier.toBuilder().clearAttributes();
    merged.forEach((name, value) -> builder.addAttributes(Attribute.newBuilder().setName(name).setValue(value)));
    if (!earlier.hasExpectedVersion() && later.hasExpectedVersion()) {
      builder.setExpectedVersion(later.getExpectedVersion());
    }
    return builder.build();
  }

  @GuardedBy("lock")
  private void markReady(OwnRequest p) {
    p.via = null;
    ready.computeIfAbsent(p.owner, o -> new LinkedHashSet<>()).add(p.objectKey);
  }

  /** Sends what can go now (e.g. a route appeared). Never blocks on the network. */
  public void flush() {
    tick();
  }

  /**
   * Queues one round: fails expired requests, takes back attempts unanswered past their resend
   * interval, and sends every waiting head that has a route. Called every 100 ms and after
   * events; rounds run on {@code serial}, so they never overlap, and calls made while a round is
   * queued share it.
   */
  public void tick() {
    if (!ticking.compareAndSet(false, true)) {
      return; // a round is queued already and will see what this call wanted
    }
    serial.execute(() -> {
      ticking.set(false); // from here on, a new call queues another round
      try {
        round();
      } catch (RuntimeException e) {
        LOG.errorf(e, "Node '%s' could not process its update requests (tried again shortly)", host.nodeName());
      }
    });
  }

  private record Send(OwnRequest pending, String via, long wireId, UpdateRequest wire, int attempts, List<String> absorbed) {}

  private void round() {
    long now = host.ticker().nanos();
    Instant wallNow = host.clock().instant();
    List<OwnRequest> expired = new ArrayList<>();
    List<Send> sends = new ArrayList<>();
    synchronized (lock) {
      while (!byExpiry.isEmpty() && !byExpiry.first().expires.isAfter(wallNow)) {
        OwnRequest p = byExpiry.pollFirst();
        removeFromQueue(p);
        expired.add(p);
      }
      while (!byResend.isEmpty() && byResend.first().resendAt <= now) {
        OwnRequest p = byResend.pollFirst();
        inFlight.remove(p.wireId);
        p.lastError = "no answer from owner '%s' within %s of sending it through peer '%s'"
            .formatted(p.owner, human(Duration.ofNanos(resendInterval(p.attempts))), p.via);
        p.wireId = -1;
        markReady(p);
      }
      for (Iterator<Map.Entry<String, LinkedHashSet<String>>> owners = ready.entrySet().iterator(); owners.hasNext(); ) {
        Map.Entry<String, LinkedHashSet<String>> entry = owners.next();
        String route = host.routeTo(entry.getKey());
        if (route == null) {
          continue;
        }
        for (Iterator<String> keys = entry.getValue().iterator(); keys.hasNext(); ) {
          ArrayDeque<OwnRequest> queue = queues.get(keys.next());
          OwnRequest head = queue == null ? null : queue.peekFirst();
          if (head == null || head.wireId >= 0) {
            keys.remove();
            continue;
          }
          if (head.notBefore - now > 0) {
            continue;
          }
          keys.remove();
          head.via = route;
          head.wireId = ids.incrementAndGet();
          head.attempts++;
          head.resendAt = now + resendInterval(head.attempts);
          inFlight.put(head.wireId, head);
          byResend.add(head);
          sends.add(new Send(head, route, head.wireId, head.wire, head.attempts, List.copyOf(head.absorbed)));
        }
        if (entry.getValue().isEmpty()) {
          owners.remove();
        }
      }
    }
    for (OwnRequest p : expired) {
      expire(p);
    }
    for (Send send : sends) {
      send(send, now);
    }
  }

  private void send(Send send, long now) {
    OwnRequest p = send.pending();
    try {
      // before it leaves: a restart must know it may have been applied (and keep the merged form)
      host.store().sending(p.requestKey, send.wire().toByteArray(), send.attempts(), send.absorbed());
    } catch (RuntimeException e) {
      retryLater(p, send.wireId(), now, "could not record the attempt in this node's database: " + e.getMessage());
      return;
    }
    synchronized (lock) {
      p.sent = true;
      p.absorbed.removeAll(send.absorbed());
    }
    Envelope envelope = Envelope.newBuilder().setUpdateRequest(send.wire().toBuilder().setRequestId(send.wireId())).build();
    if (!host.send(send.via(), envelope)) {
      // the route's stream is not open (yet, or any more): try again shortly
      retryLater(p, send.wireId(), now, "the stream to peer '%s' was not open".formatted(send.via()));
    }
  }

  /** Takes back an attempt that did not leave or got a retryable answer; sent again after a backoff. */
  private void retryLater(OwnRequest p, long wireId, long now, String why) {
    synchronized (lock) {
      if (p.wireId != wireId) {
        return; // answered or expired meanwhile
      }
      inFlight.remove(wireId);
      byResend.remove(p);
      p.wireId = -1;
      p.lastError = why;
      p.backoffNanos = p.backoffNanos == 0 ? FIRST_BACKOFF_NANOS : Math.min(p.backoffNanos * 2, MAX_BACKOFF_NANOS);
      p.notBefore = now + p.backoffNanos;
      markReady(p);
    }
  }

  private static long resendInterval(int attempts) {
    long interval = FIRST_RESEND_NANOS << Math.min(Math.max(attempts - 1, 0), 10);
    return Math.min(interval, MAX_RESEND_NANOS);
  }

  /** Removes a request from its object's queue; the next one becomes ready. */
  @GuardedBy("lock")
  private void removeFromQueue(OwnRequest p) {
    ArrayDeque<OwnRequest> queue = queues.get(p.objectKey);
    if (queue == null || !queue.remove(p)) {
      return;
    }
    count--;
    byExpiry.remove(p);
    if (p.wireId >= 0) {
      inFlight.remove(p.wireId);
      byResend.remove(p);
      p.wireId = -1;
    }
    OwnRequest next = queue.peekFirst();
    if (next == null) {
      queues.remove(p.objectKey);
      LinkedHashSet<String> keys = ready.get(p.owner);
      if (keys != null) {
        keys.remove(p.objectKey);
      }
    } else if (next.wireId < 0) {
      markReady(next);
    }
  }

  private void expire(OwnRequest p) {
    String what = p.objectKey;
    String lifetime = human(host.lifetime());
    if (p.sent) {
      settling.failed(p, RequestEvent.Outcome.OUTCOME_UNKNOWN, new UpdateRequestException.OutcomeUnknown(p.owner,
          ("owner '%s' did not answer the %s request for %s within %s; it may have applied it (sent %d times%s)")
              .formatted(p.owner, kindText(p.kind), what, lifetime, p.attempts,
                  p.lastError == null ? "" : "; last: " + p.lastError)), () -> forget(p));
    } else {
      String why = host.routeTo(p.owner) == null ? host.whyNoRoute(p.owner)
          : "it waited behind an earlier request for the same object";
      settling.failed(p, RequestEvent.Outcome.FAILED, new UpdateRequestException.OwnerUnreachable(p.owner,
          "%s; the %s request for %s was not sent within %s".formatted(why, kindText(p.kind), what, lifetime)),
          () -> forget(p));
    }
  }

  /** Forwards a request for another owner received from a peer, one hop on. */
  public void relay(String fromPeer, UpdateRequest request) {
    relay.relay(fromPeer, request);
  }

  /** Answers a request received from a peer (owner side, or a hop that cannot go on). */
  public void answer(String peer, long requestId, RequestStatus status, RejectReason reason, String message) {
    relay.answer(peer, requestId, status, reason, message);
  }

  public void answer(String peer, RequestOutcome outcome) {
    host.send(peer, Envelope.newBuilder().setRequestOutcome(outcome).build());
  }

  private static boolean isFinal(RequestStatus status) {
    return status == RequestStatus.DONE || status == RequestStatus.REFUSED || status == RequestStatus.NOT_FOUND
        || status == RequestStatus.CONFLICT;
  }

  /** An outcome came back from a peer: relay it, or settle (or retry) this node's request. */
  public void outcome(String fromPeer, RequestOutcome outcome) {
    OwnRequest p;
    long now = host.ticker().nanos();
    if (relay.outcome(outcome)) {
      return;
    }
    synchronized (lock) {
      p = inFlight.get(outcome.getRequestId());
      if (p == null || !fromPeer.equals(p.via)) {
        return;
      }
      if (isFinal(outcome.getStatus())) {
        removeFromQueue(p);
      }
    }
    if (!isFinal(outcome.getStatus())) {
      String why = outcome.getMessage().isEmpty()
          ? "peer '%s' answered %s".formatted(fromPeer, outcome.getStatus()) : outcome.getMessage();
      retryLater(p, outcome.getRequestId(), now, why);
      recordError(p, why);
      return;
    }
    tick(); // the next request for the object may go now
    if (outcome.getStatus() == RequestStatus.DONE) {
      // its row goes only once it settled (this node's copy arrived): a restart before that
      // sends it again, the owner answers from its record, and the listeners still hear APPLIED
      settling.applied(p, outcome.getSerial(), () -> forget(p));
      return;
    }
    // its row goes after the listeners heard the outcome (RequestSettling#failed)
    String owner = p.owner;
    Runnable forget = () -> forget(p);
    switch (outcome.getStatus()) {
      case REFUSED -> settling.failed(p, RequestEvent.Outcome.REFUSED, new UpdateRequestException.Refused(owner,
          RefusalReason.named(outcome.getReason().name()), outcome.getMessage()), forget);
      case NOT_FOUND -> settling.failed(p, RequestEvent.Outcome.REFUSED, new UpdateRequestException.NotFound(owner,
          outcome.getMessage()), forget);
      default -> settling.failed(p, RequestEvent.Outcome.REFUSED, new UpdateRequestException.Conflict(owner,
          outcome.getMessage()), forget);
    }
  }

  private void recordError(OwnRequest p, String why) {
    serial.execute(() -> {
      try {
        host.store().failedAttempt(p.requestKey, why);
      } catch (RuntimeException e) {
        LOG.debugf("Could not record the last error of request %s: %s", p.requestKey, e);
      }
    });
  }

  /** Deletes a settled request's rows (a failure leaves them to be sent again after a restart). */
  private void forget(OwnRequest p) {
    List<String> keys = new ArrayList<>(1 + p.absorbed.size());
    keys.add(p.requestKey);
    synchronized (lock) {
      keys.addAll(p.absorbed);
    }
    serial.execute(() -> removeSettled(keys, 1));
  }

  /**
   * Deletes settled requests' rows; a failure (an empty pool) is tried again with backoff, up to
   * {@link #SETTLED_TRIES} times: a holder of the links may run for months, so a row left behind
   * would otherwise be sent again only at the next take-over (then answered from the owner's
   * record, harmless but late).
   */
  private void removeSettled(List<String> keys, int attempt) {
    try {
      host.store().settled(keys);
    } catch (RuntimeException e) {
      if (attempt >= SETTLED_TRIES) {
        LOG.warnf("Node '%s' could not remove settled update request %s from its database after %d tries (%s); it is "
            + "sent again after a restart and answered from the owner's record", host.nodeName(), keys.get(0), attempt,
            e.getMessage());
        return;
      }
      host.scheduler().schedule(() -> serial.execute(() -> removeSettled(keys, attempt + 1)),
          Math.min(30_000L, 100L << attempt), TimeUnit.MILLISECONDS);
    }
  }

  /** This node applied changes (from peers): requests waiting for those states are done. */
  public void applied(List<Change> changes) {
    settling.changesApplied(changes);
  }

  private static String kindText(RequestKind kind) {
    return RequestSettling.publicKind(kind).name().toLowerCase(java.util.Locale.ROOT);
  }

  /** A duration as settings write it: 6h, 90s, 250 ms. */
  static String human(Duration duration) {
    long ms = duration.toMillis();
    if (ms % 86_400_000 == 0 && ms > 0) {
      return ms / 86_400_000 + "d";
    } else if (ms % 3_600_000 == 0 && ms > 0) {
      return ms / 3_600_000 + "h";
    } else if (ms % 60_000 == 0 && ms > 0) {
      return ms / 60_000 + "m";
    } else if (ms % 1000 == 0 && ms > 0) {
      return ms / 1000 + "s";
    }
    return ms + " ms";
  }

  /**
   * A peer's connection ended: this node's requests in flight through it are sent again once a
   * route exists (they keep their keys, so the owner will not apply one twice); relayed requests
   * towards it are answered UNREACHABLE (retryable) to the node they came from.
   */
  public void peerGone(String peer) {
    synchronized (lock) {
      for (Iterator<OwnRequest> it = inFlight.values().iterator(); it.hasNext(); ) {
        OwnRequest p = it.next();
        if (peer.equals(p.via)) {
          it.remove();
          byResend.remove(p);
          p.wireId = -1;
          p.lastError = "the connection to peer '%s' ended before owner '%s' answered".formatted(peer, p.owner);
          markReady(p);
        }
      }
    }
    relay.peerGone(peer);
    tick();
  }

  /** This node's unsettled requests for one object. */
  public int pendingFor(String key) {
    synchronized (lock) {
      ArrayDeque<OwnRequest> queue = queues.get(key);
      return queue == null ? 0 : queue.size();
    }
  }

  /** Requests of this node not settled yet (sent or waiting for a route). */
  public int pendingCount() {
    synchronized (lock) {
      return count;
    }
  }

  /** This node's unsettled requests, oldest first. */
  public List<PendingRequest> pendingRequests() {
    List<PendingRequest> all = new ArrayList<>();
    synchronized (lock) {
      List<OwnRequest> sorted = new ArrayList<>(count);
      queues.values().forEach(sorted::addAll);
      sorted.sort(Comparator.<OwnRequest, Instant>comparing(p -> p.created).thenComparingLong(p -> p.seq));
      for (OwnRequest p : sorted) {
        all.add(snapshot(p, p.lastError));
      }
    }
    // a request that waits for a route says why there is none (the directory has its own lock)
    all.replaceAll(r -> r.lastError() != null || r.sent() || host.routeTo(r.owner()) != null ? r
        : new PendingRequest(r.requestKey(), r.entity(), r.idText(), r.owner(), r.kind(), r.created(), r.expires(),
            r.attempts(), r.sent(), host.whyNoRoute(r.owner())));
    return all;
  }

  private static PendingRequest snapshot(OwnRequest p, String lastError) {
    int hash = p.objectKey.indexOf('#');
    return new PendingRequest(p.requestKey, p.objectKey.substring(0, hash), p.objectKey.substring(hash + 1),
        p.owner, RequestSettling.publicKind(p.kind), p.created, p.expires, p.attempts, p.sent, lastError);
  }
}
