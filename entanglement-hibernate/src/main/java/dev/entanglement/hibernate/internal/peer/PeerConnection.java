package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.core.SerialExecutor;
import dev.entanglement.hibernate.internal.core.CatchUpChunk;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Heartbeat;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.ResyncRequest;
import dev.entanglement.proto.v1.SyncMarker;
import io.grpc.Status;
import io.grpc.stub.CallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * One Exchange stream with one peer, whichever side dialed. It runs the handshake, catches the
 * peer up from the database, sends the outbox as batches paced by gRPC flow control (and the
 * bandwidth limit), tells the peer how far it is complete, hands received batches to the apply
 * executor and answers each with an Ack once it is durable.
 *
 * <h2>Concurrency</h2>
 * gRPC's outbound observer is not thread-safe, so every call on {@code out} and every field
 * marked "serial" is confined to {@code serial}, a serial executor over the node's pool. Inbound
 * callbacks run on the transport thread and only hand work off: received batches and sync
 * markers go to {@code applySerial} (one at a time, in order), everything else to {@code serial}.
 * Fields marked "apply" are confined to {@code applySerial}. The outbox is thread-safe and is
 * filled by committing application threads, which never wait for the network. Counters are
 * atomics so that status snapshots can be read from any thread.
 */
public final class PeerConnection implements StreamObserver<Envelope> {
  private static final Logger LOG = Logger.getLogger(PeerConnection.class);

  /** The protocol version this node speaks. */
  public static final int PROTOCOL_VERSION = 1;
  private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final int CATCH_UP_CHUNK = 1024;

  /** Where a connection is in its life. */
  public enum State { HANDSHAKING, STREAMING, CLOSED }

  private final PeerHost host;
  private final boolean dialer;
  private final String address;
  private final SerialExecutor serial;
  private final SerialExecutor applySerial;
  private final PeerOutbox outbox = new PeerOutbox();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private final AtomicBoolean positionFlushScheduled = new AtomicBoolean();
  private final CompletableFuture<Void> closedFuture = new CompletableFuture<>();

  private CallStreamObserver<Envelope> out; // serial (set once before the call starts)
  private final ArrayDeque<Envelope> urgent = new ArrayDeque<>(); // serial: acks, markers, requests
  private final Map<Long, Map<String, Long>> inFlight = new HashMap<>(); // serial: request id -> positions sent
  private final List<CompletableFuture<Void>> caughtUpWaiters = new ArrayList<>(); // serial
  private final Map<Long, CompletableFuture<Void>> resyncWaiters = new HashMap<>(); // serial
  private final Map<RejectReason, Long> rejectionsLogged = new EnumMap<>(RejectReason.class); // serial
  private long nextRequestId; // serial
  private CatchUp catchUp; // serial: the one running, or null
  private final ArrayDeque<CatchUp> queuedCatchUps = new ArrayDeque<>(); // serial
  private final Map<String, Long> positionSent = new HashMap<>(); // serial: per owner, the highest sent
  private long granted = 1; // serial: messages requested from the peer so far (1: the Hello)
  private TokenBucket bucket; // serial
  private ScheduledFuture<?> ticker; // serial
  private ScheduledFuture<?> pacedDrain; // serial
  private boolean pacedDrainPending; // serial
  private long lastSentNanos; // serial

  private final Map<String, Set<String>> fullSyncKeys = new HashMap<>(); // apply
  private final ArrayDeque<Runnable> heldWhilePaused = new ArrayDeque<>(); // apply
  private final Map<RejectReason, AtomicLong> rejectedByPeerByReason = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<RejectReason, AtomicLong> rejectedHereByReason = new java.util.concurrent.ConcurrentHashMap<>();

  private volatile State state = State.HANDSHAKING;
  private volatile String peerName;
  private volatile Instant since = Instant.now();
  private volatile long lastReceivedNanos = System.nanoTime();
  private volatile boolean paused; // written on serial
  private int withheldGrants; // serial
  private final AtomicLong bytesReceived = new AtomicLong();
  private final AtomicLong messagesReceived = new AtomicLong();
  private final AtomicLong changesSent = new AtomicLong();
  private final AtomicLong bytesSent = new AtomicLong();
  private final AtomicLong changesAcknowledged = new AtomicLong();
  private final AtomicLong changesRejectedByPeer = new AtomicLong();
  private final AtomicLong changesReceived = new AtomicLong();
  private final AtomicLong changesRejectedHere = new AtomicLong();
  private final AtomicLong changesAppliedHere = new AtomicLong();
  /** The certificate the peer presented in the TLS handshake (null in-process or plaintext). */
  private volatile java.security.cert.X509Certificate peerCertificate;
  private volatile String peerFingerprint; // of peerCertificate, computed once
  /** Who the peer is, once its Hello was accepted (null before). */
  private volatile dev.entanglement.hibernate.PeerIdentity identity;
  private final AtomicLong catchUpObjectsSent = new AtomicLong();

  /**
   * @param dialer whether this node opened the stream (it sends Hello first)
   * @param address the peer's address as dialed, or a description of the inbound call
   */
  public PeerConnection(PeerHost host, boolean dialer, String address) {
    this.host = host;
    this.dialer = dialer;
    this.address = address;
    this.serial = new SerialExecutor(host.pool());
    this.applySerial = new SerialExecutor(host.pool());
  }

  /**
   * Installs the outbound observer. Must be called during gRPC's initial call (server: inside
   * the service method; client: in beforeStart), before any other use.
   */
  public void attach(CallStreamObserver<Envelope> outbound) {
    this.out = outbound;
    outbound.setOnReadyHandler(this::requestDrain);
    // a link that swallows everything (black hole) must not leave a handshake waiting for ever
    long timeout = host.heartbeatTimeout().toMillis();
    host.scheduler().schedule(() -> serial.execute(() -> {
      if (state == State.HANDSHAKING) {
        fail(Status.UNAVAILABLE, "no Hello from %s within %d ms (entanglement.heartbeat.timeout_ms)"
            .formatted(address, timeout));
      }
    }), timeout, TimeUnit.MILLISECONDS);
  }

  /** The dialer's first move, after the call has started: introduce this node. */
  public void sendHello() {
    serial.execute(() -> {
      if (state == State.HANDSHAKING) {
        send(Envelope.newBuilder().setHello(hello()).build());
      }
    });
  }

  private Hello hello() {
    return Hello.newBuilder()
        .setProtocolVersion(PROTOCOL_VERSION)
        .setNodeName(host.nodeName())
        .addCapabilities("batched-ack")
        .addCapabilities("catch-up")
        .addAllOwners(host.heldPositions())
        .build();
  }

  // ---- inbound (transport thread: hand off only) -------------------------------------------

  @Override
  public void onNext(Envelope envelope) {
    lastReceivedNanos = System.nanoTime();
    messagesReceived.incrementAndGet();
    bytesReceived.addAndGet(envelope.getSerializedSize());
    switch (envelope.getBodyCase()) {
      case HELLO -> serial.execute(() -> onHello(envelope.getHello()));
      case CHANGES -> {
        if (state != State.STREAMING) {
          serial.execute(() -> fail(Status.INVALID_ARGUMENT, "the first message must be a Hello, got a ChangeBatch"));
          return;
        }
        ChangeBatch batch = envelope.getChanges();
        changesReceived.addAndGet(batch.getChangesCount());
        applySerial.execute(() -> applyOrHold(() -> {
          collectFullSyncKeys(batch);
          Ack ack = host.apply(peerName, batch);
          long rejected = ack.getOutcomesList().stream()
              .filter(o -> o.getStatus() == OutcomeStatus.REJECTED).count();
          changesRejectedHere.addAndGet(rejected);
          countRejectionsHere(ack);
          changesAppliedHere.addAndGet(ack.getOutcomesList().stream()
              .filter(o -> o.getStatus() == OutcomeStatus.APPLIED).count());
          serial.execute(() -> sendUrgentAndGrantOne(Envelope.newBuilder().setAck(ack).build()));
        }));
      }
      case SYNC_MARKER -> applySerial.execute(() -> applyOrHold(() -> {
        onSyncMarker(envelope.getSyncMarker());
        serial.execute(() -> sendUrgentAndGrantOne(null));
      }));
      case ACK -> serial.execute(() -> onAck(envelope.getAck()));
      case RESYNC_REQUEST -> serial.execute(() -> {
        onResyncRequest(envelope.getResyncRequest());
        grant(1);
      });
      case HEARTBEAT -> serial.execute(() -> grant(1));
      case UPDATE_REQUEST -> serial.execute(() -> {
        grant(1);
        if (state == State.STREAMING) {
          host.onUpdateRequest(peerName, envelope.getUpdateRequest());
        }
      });
      case REQUEST_OUTCOME -> serial.execute(() -> {
        grant(1);
        if (state == State.STREAMING) {
          host.onRequestOutcome(peerName, envelope.getRequestOutcome());
        }
      });
      case OWNER_REMOVED -> serial.execute(() -> {
        grant(1);
        if (state == State.STREAMING) {
          host.onOwnerRemoved(peerName, envelope.getOwnerRemoved());
        }
      });
      case TRANSITION -> serial.execute(() -> {
        grant(1);
        if (state == State.STREAMING) {
          host.onTransition(peerName, envelope.getTransition());
        }
      });
      default -> serial.execute(() -> {
        // a newer peer's message kind: skip it, but keep the stream going
        LOG.debugf("Ignoring an envelope of an unknown kind from peer '%s'", peerName);
        grant(1);
      });
    }
  }

  @Override
  public void onError(Throwable t) {
    serial.execute(() -> closed("stream failed: " + Status.fromThrowable(t)));
  }

  @Override
  public void onCompleted() {
    serial.execute(() -> {
      if (state != State.CLOSED) {
        out.onCompleted();
      }
      closed("peer closed the stream");
    });
  }

  // ---- apply executor -----------------------------------------------------------------------

  private void collectFullSyncKeys(ChangeBatch batch) {
    if (fullSyncKeys.isEmpty()) {
      return;
    }
    for (Change change : batch.getChangesList()) {
      Set<String> keys = fullSyncKeys.get(change.getOwner());
      if (keys != null) {
        String key = host.objectKey(change);
        if (key != null) {
          keys.add(key);
        }
      }
    }
  }

  private void onSyncMarker(SyncMarker marker) {
    switch (marker.getKind()) {
      case FULL_SYNC_START -> fullSyncKeys.put(marker.getOwner(), new HashSet<>());
      case FULL_SYNC_END -> {
        Set<String> received = fullSyncKeys.remove(marker.getOwner());
        host.endFullSync(peerName, marker, received == null ? Set.of() : received);
        if (marker.getResyncRequestId() != 0) {
          serial.execute(() -> {
            CompletableFuture<Void> waiter = resyncWaiters.remove(marker.getResyncRequestId());
            if (waiter != null) {
              waiter.complete(null);
            }
          });
        }
      }
      default -> LOG.debugf("Ignoring a sync marker of unknown kind from peer '%s'", peerName);
    }
  }

  // ---- serial -------------------------------------------------------------------------------

  private void onHello(Hello hello) {
    if (state != State.HANDSHAKING) {
      fail(Status.INVALID_ARGUMENT, "a second Hello on an open stream");
      return;
    }
    String name = hello.getNodeName();
    if (hello.getProtocolVersion() != PROTOCOL_VERSION) {
      fail(Status.FAILED_PRECONDITION, "peer '%s' speaks protocol version %d; node '%s' speaks version %d"
          .formatted(name, hello.getProtocolVersion(), host.nodeName(), PROTOCOL_VERSION));
      return;
    }
    if (!NODE_NAME.matcher(name).matches()) {
      fail(Status.INVALID_ARGUMENT, "the peer's Hello has an invalid node name '%s'".formatted(name));
      return;
    }
    if (name.equals(host.nodeName())) {
      fail(Status.FAILED_PRECONDITION, ("the peer has the same node name '%s' as this node: "
          + "every node needs a name of its own (entanglement.node.name), or a node dialed itself").formatted(name));
      return;
    }
    java.security.cert.X509Certificate certificate = peerCertificate;
    if (certificate != null && !certificateNames(certificate).contains(name)) {
      String refusal = ("refused the connection %s %s: it introduced itself as '%s', but its certificate (subject %s, "
          + "SHA-256 fingerprint %s) is issued to %s").formatted(dialer ? "to" : "from", address, name,
          certificate.getSubjectX500Principal().getName(), fingerprint(), certificateNames(certificate));
      // one WARN per kind of refusal a minute (the peer redials); the port changes with every dial
      if (dev.entanglement.hibernate.internal.transport.QuietLog.first(host.nodeName() + refusal.replaceAll(":[0-9]+: ", ": "))) {
        LOG.warnf("Node '%s' %s (repeats are logged at DEBUG for a minute)", host.nodeName(), refusal);
      } else {
        LOG.debugf("Node '%s' %s", host.nodeName(), refusal);
      }
      end(Status.PERMISSION_DENIED, "node '" + host.nodeName() + "' " + refusal);
      return;
    }
    peerName = name;
    identity = certificate == null ? dev.entanglement.hibernate.PeerIdentity.unverified(name)
        : new dev.entanglement.hibernate.PeerIdentity(name, fingerprint(), certificate.getSubjectX500Principal().getName());
    // live changes reach the outbox from now on; the catch-up read starts after this, so every
    // change is in one or the other (or both: the outbox keeps the newer)
    String refusal = host.register(this);
    if (refusal != null) {
      peerName = null; // not registered: unregister must not remove the other connection
      fail(Status.ALREADY_EXISTS, refusal);
      return;
    }
    if (!dialer) {
      send(Envelope.newBuilder().setHello(hello()).build());
    }
    state = State.STREAMING;
    since = Instant.now();
    bucket = new TokenBucket(host.bandwidthLimit(), System.nanoTime());
    startCatchUp(hello);
    LOG.infof("Node '%s' connected to peer '%s' (%s, %s)", host.nodeName(), name,
        dialer ? "dialed" : "accepted", address);
    grant(host.applyWindow());
    long tick = host.heartbeatInterval().toMillis();
    ticker = host.scheduler().scheduleAtFixedRate(() -> serial.execute(this::tick), tick, tick, TimeUnit.MILLISECONDS);
    drain();
  }

  /** Decides how to bring the peer up to date with this node's objects. */
  private void startCatchUp(Hello hello) {
    String self = host.nodeName();
    long held = hello.getOwnersList().stream().filter(p -> p.getOwner().equals(self))
        .mapToLong(OwnerPosition::getSerial).findFirst().orElse(0L);
    long lowest = host.lowestUnfinishedSerial();
    // what the peer holds is what it has durably applied: it counts as acknowledged (and makes
    // the peer known to tombstone compaction from its first connection on)
    host.acknowledged(hello.getNodeName(), self, held >= lowest ? 0 : held);
    if (held >= lowest) {
      // the peer holds serials this node never finished (its database was restored or reset):
      // continue above them, and replace everything the peer has of this node
      LOG.warnf("Peer '%s' holds objects of node '%s' up to serial %d, beyond this node's own %d: "
          + "sending all objects again with a sweep", hello.getNodeName(), self, held, lowest - 1);
      host.ensureSerialAbove(held);
      queueCatchUp(new CatchUp(self, 0, true, true, 0));
    } else if (held < host.compactedThrough()) {
      LOG.infof("Peer '%s' was away past tombstone compaction (it holds serial %d, tombstones up to %d "
          + "are gone): full synchronization with a sweep", hello.getNodeName(), held, host.compactedThrough());
      queueCatchUp(new CatchUp(self, 0, true, true, 0));
    } else {
      queueCatchUp(new CatchUp(self, held, false, false, 0));
    }
    // the objects of other owners this node holds (it relays them), from where the peer is
    for (OwnerPosition position : host.heldPositions()) {
      String owner = position.getOwner();
      if (owner.equals(self) || owner.equals(hello.getNodeName())) {
        continue;
      }
      long peerHolds = hello.getOwnersList().stream().filter(p -> p.getOwner().equals(owner))
          .mapToLong(OwnerPosition::getSerial).findFirst().orElse(0L);
      // always read, even if the peer seems to hold as much: a batch of this owner applied
      // while the peer was registering was relayed before the peer counted, and is in the
      // database but in no outbox; the read finds it
      queueCatchUp(new CatchUp(owner, peerHolds, false, false, 0));
    }
  }

  private void queueCatchUp(CatchUp next) {
    positionSent.merge(next.owner, next.cursor, Math::min);
    if (catchUp == null) {
      beginCatchUp(next);
    } else {
      queuedCatchUps.add(next);
    }
  }

  private void beginCatchUp(CatchUp next) {
    catchUp = next;
    positionSent.put(next.owner, Math.min(positionSent.getOrDefault(next.owner, 0L), next.cursor));
    if (next.full) {
      urgent.add(Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder()
          .setKind(SyncMarker.Kind.FULL_SYNC_START).setOwner(next.owner)).build());
    }
  }

  private void onResyncRequest(ResyncRequest request) {
    LOG.infof("Peer '%s' asks for a full resynchronization%s", peerName, request.getClear() ? " with a sweep" : "");
    queueCatchUp(new CatchUp(host.nodeName(), 0, true, request.getClear(), request.getRequestId()));
    drain();
  }

  private void onAck(Ack ack) {
    grant(1);
    Map<String, Long> positions = inFlight.remove(ack.getRequestId());
    if (positions == null) {
      LOG.warnf("Peer '%s' acknowledged unknown request %d", peerName, ack.getRequestId());
      return;
    }
    for (Outcome outcome : ack.getOutcomesList()) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED) {
        changesRejectedByPeer.incrementAndGet();
        countRejection(rejectedByPeerByReason, outcome.getReason(), false);
        // log each reason once at WARN (the receiver logs and parks every rejection), then DEBUG
        long seen = rejectionsLogged.merge(outcome.getReason(), 1L, Long::sum);
        if (seen == 1) {
          LOG.warnf("Peer '%s' rejected a change (%s): %s (it keeps the change and retries it; "
              + "further %s rejections from this peer are logged at DEBUG)",
              peerName, outcome.getReason(), outcome.getMessage(), outcome.getReason());
        } else {
          LOG.debugf("Peer '%s' rejected a change (%s): %s", peerName, outcome.getReason(), outcome.getMessage());
        }
      } else {
        changesAcknowledged.incrementAndGet();
      }
    }
    positions.forEach((owner, position) -> host.acknowledged(peerName, owner, position));
    checkCaughtUp();
  }

  private void grant(int messages) {
    if (state == State.STREAMING) {
      if (paused) {
        withheldGrants += messages; // the peer's sending waits in gRPC flow control
        return;
      }
      granted += messages;
      out.request(messages);
    }
  }

  /**
   * Pauses the flow both ways without ending the stream: nothing more is sent to the peer but
   * acknowledgements and heartbeats, and nothing more is read from it (its sending waits in flow
   * control; batches already granted arrive but are held unapplied and unacknowledged until the
   * flow resumes). Changes keep coalescing in the outbox meanwhile.
   */
  public CompletableFuture<Void> pause() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    serial.execute(() -> {
      paused = true;
      done.complete(null);
    });
    return done;
  }

  /** Resumes a paused flow: what waited is sent, and reading goes on. */
  public CompletableFuture<Void> resume() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    serial.execute(() -> {
      if (paused) {
        paused = false;
        applySerial.execute(this::releaseHeld);
        int withheld = withheldGrants;
        withheldGrants = 0;
        if (withheld > 0) {
          grant(withheld);
        }
        drain();
      }
      done.complete(null);
    });
    return done;
  }

  public boolean paused() {
    return paused;
  }

  /**
   * Starts the connection paused (an operator paused the peer before this stream). Called by
   * the host from {@link PeerHost#register} (on the serial executor), before anything flows.
   */
  public void pauseFromStart() {
    paused = true;
  }

  /** Applies a received batch or marker now, or holds it (in order) while the flow is paused. On apply. */
  private void applyOrHold(Runnable work) {
    if (paused || !heldWhilePaused.isEmpty()) {
      heldWhilePaused.add(work);
      return;
    }
    work.run();
  }

  /** Applies what arrived while paused, in arrival order. On apply. */
  private void releaseHeld() {
    Runnable next;
    while (!paused && (next = heldWhilePaused.poll()) != null) {
      next.run();
    }
  }

  private void countRejectionsHere(Ack ack) {
    for (Outcome outcome : ack.getOutcomesList()) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED) {
        countRejection(rejectedHereByReason, outcome.getReason(), true);
      }
    }
  }

  private void countRejection(Map<RejectReason, AtomicLong> counts, RejectReason reason, boolean here) {
    counts.computeIfAbsent(reason, r -> new AtomicLong()).incrementAndGet();
    if (peerName != null) {
      host.rejected(peerName, here, reason);
    }
  }

  private void sendUrgentAndGrantOne(Envelope envelope) {
    if (state != State.STREAMING) {
      return;
    }
    if (envelope != null) {
      urgent.add(envelope);
    }
    grant(1);
    drain();
  }

  private void requestDrain() {
    if (drainScheduled.compareAndSet(false, true)) {
      serial.execute(() -> {
        drainScheduled.set(false); // clear first: an offer racing with this drain schedules another
        drain();
      });
    }
  }

  private void drain() {
    if (state != State.STREAMING) {
      return;
    }
    while (out.isReady()) {
      long wait = bucket.waitNanos(System.nanoTime());
      if (wait > 0) {
        if (!pacedDrainPending) {
          pacedDrainPending = true;
          pacedDrain = host.scheduler().schedule(() -> serial.execute(() -> {
            pacedDrainPending = false;
            drain();
          }), wait, TimeUnit.NANOSECONDS);
        }
        return;
      }
      Envelope next = urgent.poll();
      if (next != null) {
        send(next);
        continue;
      }
      if (paused) {
        return;
      }
      List<Change> batch = outbox.poll(host.outboxBatchSize(), bucket.messageBudget());
      if (batch.isEmpty()) {
        if (!finishCatchUp()) {
          break;
        }
        continue;
      }
      sendBatch(batch);
    }
    readMoreCatchUp();
    checkCaughtUp();
  }

  /** Sends a batch with the positions it completes (those that move), tracked until acked. */
  private void sendBatch(List<Change> batch) {
    long requestId = ++nextRequestId;
    ChangeBatch.Builder message = ChangeBatch.newBuilder().setRequestId(requestId).addAllChanges(batch);
    Map<String, Long> positions = movedPositions();
    positions.forEach((owner, position) ->
        message.addPositions(OwnerPosition.newBuilder().setOwner(owner).setSerial(position)));
    positionSent.putAll(positions);
    inFlight.put(requestId, positions);
    changesSent.addAndGet(batch.size());
    send(Envelope.newBuilder().setChanges(message).build());
  }

  /** The owners whose complete position moved since it was last sent. */
  private Map<String, Long> movedPositions() {
    Map<String, Long> moved = new HashMap<>();
    for (String owner : servedOwners()) {
      long position = completePosition(owner);
      if (position > positionSent.getOrDefault(owner, 0L)) {
        moved.put(owner, position);
      }
    }
    return moved;
  }

  /** This node and every other owner whose objects it holds, but the peer itself. */
  private List<String> servedOwners() {
    List<String> owners = new ArrayList<>();
    owners.add(host.nodeName());
    for (OwnerPosition held : host.heldPositions()) {
      if (!held.getOwner().equals(peerName) && !held.getOwner().equals(host.nodeName())) {
        owners.add(held.getOwner());
      }
    }
    return owners;
  }

  /**
   * How far the peer will hold an owner's objects once everything sent so far is applied: for
   * this node, below every unfinished transaction; for another owner, no further than this node
   * holds it itself; and in both cases below every change of the owner still waiting in the
   * outbox and what a catch-up of the owner has not read yet. -1 during a full synchronization
   * of the owner (its end marker carries the position instead).
   */
  private long completePosition(String owner) {
    if (catchUp != null && catchUp.owner.equals(owner) && catchUp.full) {
      return -1;
    }
    // read the unfinished serials before the outbox: a change finishes only after it is offered
    long position = owner.equals(host.nodeName())
        ? host.lowestUnfinishedSerial() - 1
        : host.heldPosition(owner);
    long waiting = outbox.lowestWaiting(owner);
    if (waiting != Long.MAX_VALUE) {
      position = Math.min(position, waiting - 1);
    }
    if (catchUp != null && catchUp.owner.equals(owner) && !catchUp.readAll) {
      position = Math.min(position, catchUp.cursor);
    }
    for (CatchUp queued : queuedCatchUps) {
      if (queued.owner.equals(owner)) {
        position = Math.min(position, queued.cursor);
      }
    }
    return position;
  }

  /** Ends a catch-up whose objects have all been sent; returns whether there is more to send. */
  private boolean finishCatchUp() {
    if (catchUp == null || !catchUp.readAll || catchUp.endSent) {
      return false;
    }
    catchUp.endSent = true;
    CatchUp done = catchUp;
    catchUp = null;
    LOG.debugf("Caught up peer '%s' with %d objects of '%s'", peerName, done.objectsRead, done.owner);
    if (done.full) {
      long position = completePosition(done.owner);
      positionSent.put(done.owner, position);
      urgent.add(Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder()
          .setKind(SyncMarker.Kind.FULL_SYNC_END).setOwner(done.owner).setSerial(position)
          .setSweep(done.sweep).setResyncRequestId(done.resyncRequestId)).build());
    }
    CatchUp next = queuedCatchUps.poll();
    if (next != null) {
      beginCatchUp(next);
    }
    return true;
  }

  /** Reads the next chunk of the running catch-up when the outbox runs low. */
  private void readMoreCatchUp() {
    CatchUp running = catchUp;
    if (running == null || running.readAll || running.reading || outbox.size() >= 2 * host.outboxBatchSize()) {
      return;
    }
    running.reading = true;
    long after = running.cursor;
    host.pool().execute(() -> {
      CatchUpChunk chunk;
      try {
        chunk = host.readCatchUp(running.owner, after, CATCH_UP_CHUNK);
      } catch (RuntimeException e) {
        LOG.errorf(e, "Could not read catch-up for peer '%s'", peerName);
        serial.execute(() -> fail(Status.INTERNAL, "this node could not read its catch-up: " + e));
        return;
      }
      // policies decide here, off the serial executor (an object-level policy may read the database)
      List<Outgoing> allowed = new ArrayList<>(chunk.changes().size());
      for (Outgoing change : chunk.changes()) {
        if (!host.sendDenied(peerName, change)) {
          allowed.add(change);
        }
      }
      serial.execute(() -> {
        for (Outgoing change : allowed) {
          outbox.offer(change);
        }
        catchUpObjectsSent.addAndGet(chunk.changes().size());
        running.objectsRead += chunk.changes().size();
        running.cursor = Math.max(running.cursor, chunk.lastSerial());
        running.readAll = chunk.complete();
        running.reading = false;
        drain();
      });
    });
  }

  private void send(Envelope envelope) {
    int size = envelope.getSerializedSize();
    bytesSent.addAndGet(size);
    long now = System.nanoTime();
    if (bucket != null) {
      bucket.spend(size, now);
    }
    lastSentNanos = now;
    out.onNext(envelope);
  }

  /** Every heartbeat interval: show signs of life, report progress, detect a silent peer. */
  private void tick() {
    if (state != State.STREAMING) {
      return;
    }
    long now = System.nanoTime();
    long outstanding = granted - messagesReceived.get();
    long silent = now - lastReceivedNanos;
    if (outstanding > 0 && silent > host.heartbeatTimeout().toNanos()) {
      fail(Status.UNAVAILABLE, "peer '%s' sent nothing for %d ms (entanglement.heartbeat.timeout_ms is %d)"
          .formatted(peerName, TimeUnit.NANOSECONDS.toMillis(silent), host.heartbeatTimeout().toMillis()));
      return;
    }
    if (now - lastSentNanos >= host.heartbeatInterval().toNanos() / 2 && out.isReady()) {
      if (outbox.size() == 0 && !movedPositions().isEmpty()) {
        sendBatch(List.of()); // nothing to send, but the position moved (e.g. rolled-back serials)
      } else {
        send(Envelope.newBuilder().setHeartbeat(Heartbeat.getDefaultInstance()).build());
      }
    }
  }

  private void checkCaughtUp() {
    if (!caughtUpWaiters.isEmpty() && inFlight.isEmpty() && outbox.size() == 0 && catchUp == null
        && urgent.isEmpty()) {
      caughtUpWaiters.forEach(f -> f.complete(null));
      caughtUpWaiters.clear();
    }
  }

  private void fail(Status status, String description) {
    if (state == State.CLOSED) {
      return;
    }
    LOG.warnf("Node '%s' closes the stream with %s: %s", host.nodeName(),
        peerName != null ? "peer '" + peerName + "'" : address, description);
    end(status, description);
  }

  /** Ends the stream with an error status, the reason already logged. */
  private void end(Status status, String description) {
    if (state == State.CLOSED) {
      return;
    }
    out.onError(status.withDescription(description).asRuntimeException());
    closed(description);
  }

  private void closed(String why) {
    if (state == State.CLOSED) {
      return;
    }
    boolean wasStreaming = state == State.STREAMING;
    state = State.CLOSED;
    since = Instant.now();
    if (ticker != null) {
      ticker.cancel(false);
    }
    if (pacedDrain != null) {
      pacedDrain.cancel(false);
    }
    if (wasStreaming) {
      LOG.infof("Node '%s' disconnected from peer '%s': %s", host.nodeName(), peerName, why);
    }
    IllegalStateException ended = new IllegalStateException(
        "the connection with peer '" + peerName + "' ended: " + why);
    caughtUpWaiters.forEach(f -> f.completeExceptionally(ended));
    caughtUpWaiters.clear();
    resyncWaiters.values().forEach(f -> f.completeExceptionally(ended));
    resyncWaiters.clear();
    host.unregister(this);
    closedFuture.complete(null);
  }

  // ---- any thread ---------------------------------------------------------------------------

  /**
   * Positions may have moved without a change to send (a transaction finished after its change
   * left, a relayed owner's position advanced): tell the peer soon, in an empty batch, unless a
   * batch with changes carries it first. At most one such message per 20 ms.
   */
  public void positionsMayMove() {
    if (state == State.STREAMING && positionFlushScheduled.compareAndSet(false, true)) {
      host.scheduler().schedule(() -> serial.execute(() -> {
        positionFlushScheduled.set(false);
        if (state == State.STREAMING && outbox.size() == 0 && out.isReady() && !movedPositions().isEmpty()) {
          sendBatch(List.of());
        }
      }), 20, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * Sends a small control message (update request, outcome) ahead of waiting changes. Returns
   * false if the connection is not open. Never blocks.
   */
  public boolean sendUrgent(Envelope envelope) {
    if (state != State.STREAMING) {
      return false;
    }
    serial.execute(() -> {
      if (state == State.STREAMING) {
        urgent.add(envelope);
        drain();
      }
    });
    return true;
  }

  /** Queues a committed change for this peer. Never blocks on the network. */
  public void offer(Outgoing change) {
    if (state == State.CLOSED || host.sendDenied(peerName, change)) {
      return;
    }
    outbox.offer(change);
    requestDrain();
  }

  /**
   * Completes when everything offered so far (and the catch-up) has been answered by the peer.
   */
  public CompletableFuture<Void> caughtUp() {
    CompletableFuture<Void> result = new CompletableFuture<>();
    serial.execute(() -> {
      if (state == State.CLOSED) {
        result.completeExceptionally(new IllegalStateException("the connection with peer '" + peerName + "' is closed"));
        return;
      }
      caughtUpWaiters.add(result);
      checkCaughtUp();
    });
    return result;
  }

  /**
   * Sends the peer everything again (this node's objects and those it relays), each owner as a
   * full synchronization with a sweep: what the peer holds of those owners and is not sent is
   * removed there. Used when policy decisions changed, so withdrawn objects disappear and
   * granted ones arrive.
   */
  public void pushFullSync() {
    pushFullSync(null);
  }

  /** As {@link #pushFullSync()}, for one owner's objects only (null: every owner). */
  public void pushFullSync(String onlyOwner) {
    serial.execute(() -> {
      if (state != State.STREAMING) {
        return;
      }
      if (onlyOwner == null || onlyOwner.equals(host.nodeName())) {
        queueCatchUp(new CatchUp(host.nodeName(), 0, true, true, 0));
      }
      for (OwnerPosition position : host.heldPositions()) {
        String owner = position.getOwner();
        if (!owner.equals(host.nodeName()) && !owner.equals(peerName) && (onlyOwner == null || onlyOwner.equals(owner))) {
          queueCatchUp(new CatchUp(owner, 0, true, true, 0));
        }
      }
      drain();
    });
  }

  /**
   * Asks the peer to send all its objects again; with {@code clear}, this node also removes the
   * peer's objects the peer no longer has. Completes when the full synchronization has been
   * applied here.
   */
  public CompletableFuture<Void> requestResync(boolean clear) {
    CompletableFuture<Void> result = new CompletableFuture<>();
    serial.execute(() -> {
      if (state != State.STREAMING) {
        result.completeExceptionally(new IllegalStateException("the connection with peer '" + peerName + "' is not open"));
        return;
      }
      long id = ++nextRequestId;
      resyncWaiters.put(id, result);
      urgent.add(Envelope.newBuilder().setResyncRequest(ResyncRequest.newBuilder()
          .setRequestId(id).setClear(clear)).build());
      drain();
    });
    return result;
  }

  /** Ends the stream politely (node shutdown); completes when done. */
  public CompletableFuture<Void> close() {
    serial.execute(() -> {
      if (state != State.CLOSED) {
        out.onCompleted();
        closed("node is shutting down");
      }
    });
    return closedFuture;
  }

  public String peerName() {
    return peerName;
  }

  public boolean dialer() {
    return dialer;
  }

  public String address() {
    return address;
  }

  public State state() {
    return state;
  }

  public Instant since() {
    return since;
  }

  public int outboxDepth() {
    return outbox.size();
  }

  public long coalesced() {
    return outbox.coalesced();
  }

  public long changesSent() {
    return changesSent.get();
  }

  public long bytesReceived() {
    return bytesReceived.get();
  }

  public long bytesSent() {
    return bytesSent.get();
  }

  public long catchUpObjectsSent() {
    return catchUpObjectsSent.get();
  }

  public long changesAcknowledged() {
    return changesAcknowledged.get();
  }

  public long changesRejectedByPeer() {
    return changesRejectedByPeer.get();
  }

  public long changesReceived() {
    return changesReceived.get();
  }

  public long changesRejectedHere() {
    return changesRejectedHere.get();
  }

  /** Changes the peer rejected, by reason. */
  public Map<RejectReason, Long> rejectedByPeerByReason() {
    return snapshot(rejectedByPeerByReason);
  }

  /** Changes from the peer rejected here, by reason. */
  public Map<RejectReason, Long> rejectedHereByReason() {
    return snapshot(rejectedHereByReason);
  }

  private static Map<RejectReason, Long> snapshot(Map<RejectReason, AtomicLong> counts) {
    Map<RejectReason, Long> copy = new EnumMap<>(RejectReason.class);
    counts.forEach((reason, count) -> copy.put(reason, count.get()));
    return copy;
  }

  /** Sets the certificate the peer presented in the TLS handshake, before its Hello is handled. */
  public void peerCertificate(java.security.cert.X509Certificate certificate) {
    if (certificate != null) {
      peerFingerprint = dev.entanglement.hibernate.tls.Fingerprints.sha256(certificate);
      peerCertificate = certificate;
    }
  }

  /** The SHA-256 fingerprint of the peer's verified certificate, or null without TLS. */
  public String fingerprint() {
    return peerFingerprint;
  }

  /** Who the peer is: set when its Hello is accepted, null before (and if it was refused). */
  public dev.entanglement.hibernate.PeerIdentity identity() {
    return identity;
  }

  /** The names a certificate is issued to: its subject CN and its DNS names. */
  private static java.util.Set<String> certificateNames(java.security.cert.X509Certificate certificate) {
    java.util.Set<String> names = new java.util.LinkedHashSet<>();
    try {
      for (var rdn : new javax.naming.ldap.LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          names.add(String.valueOf(rdn.getValue()));
        }
      }
      var alternatives = certificate.getSubjectAlternativeNames();
      if (alternatives != null) {
        for (var alternative : alternatives) {
          if (alternative.size() == 2 && Integer.valueOf(2).equals(alternative.get(0))) {
            names.add(String.valueOf(alternative.get(1)));
          }
        }
      }
    } catch (javax.naming.InvalidNameException | java.security.cert.CertificateParsingException e) {
      LOG.debugf("Could not read the names of certificate %s: %s", certificate.getSubjectX500Principal(), e);
    }
    return names;
  }

  public long changesAppliedHere() {
    return changesAppliedHere.get();
  }
}
