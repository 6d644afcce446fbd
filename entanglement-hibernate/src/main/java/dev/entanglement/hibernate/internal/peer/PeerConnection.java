package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import io.grpc.Status;
import io.grpc.stub.CallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * One Exchange stream with one peer, whichever side dialed. It runs the handshake, sends the
 * peer's outbox as batches paced by gRPC flow control, hands received batches to the apply
 * executor and answers each with an Ack once it is durable.
 *
 * <h2>Concurrency</h2>
 * gRPC's outbound observer is not thread-safe, so every call on {@code out} and every field
 * marked "serial" is confined to {@code serial}, a serial executor over the node's pool. Inbound
 * callbacks run on the transport thread and only hand work off: received batches go to
 * {@code applySerial} (one batch at a time, in order), everything else to {@code serial}. The
 * outbox is thread-safe and is filled by committing application threads, which never wait for
 * the network. Counters are atomics so that status snapshots can be read from any thread.
 */
public final class PeerConnection implements StreamObserver<Envelope> {
  private static final Logger LOG = Logger.getLogger(PeerConnection.class);

  /** The protocol version this node speaks. */
  public static final int PROTOCOL_VERSION = 1;
  private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  /** Where a connection is in its life. */
  public enum State { HANDSHAKING, STREAMING, CLOSED }

  private final PeerHost host;
  private final boolean dialer;
  private final String address;
  private final SerialExecutor serial;
  private final SerialExecutor applySerial;
  private final PeerOutbox outbox = new PeerOutbox();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private final CompletableFuture<Void> closedFuture = new CompletableFuture<>();

  private CallStreamObserver<Envelope> out; // serial (set once before the call starts)
  private final ArrayDeque<Ack> pendingAcks = new ArrayDeque<>(); // serial
  private final Map<Long, Integer> inFlight = new HashMap<>(); // serial: request id -> changes
  private final List<CompletableFuture<Void>> caughtUpWaiters = new ArrayList<>(); // serial
  private final Map<RejectReason, Long> rejectionsLogged = new EnumMap<>(RejectReason.class); // serial
  private long nextRequestId; // serial

  private volatile State state = State.HANDSHAKING;
  private volatile String peerName;
  private volatile Instant since = Instant.now();
  private final AtomicLong changesSent = new AtomicLong();
  private final AtomicLong changesAcknowledged = new AtomicLong();
  private final AtomicLong changesRejectedByPeer = new AtomicLong();
  private final AtomicLong changesReceived = new AtomicLong();
  private final AtomicLong changesRejectedHere = new AtomicLong();

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
  }

  /** The dialer's first move, after the call has started: introduce this node. */
  public void sendHello() {
    serial.execute(() -> {
      if (state == State.HANDSHAKING) {
        out.onNext(Envelope.newBuilder().setHello(hello()).build());
      }
    });
  }

  private Hello hello() {
    return Hello.newBuilder()
        .setProtocolVersion(PROTOCOL_VERSION)
        .setNodeName(host.nodeName())
        .addCapabilities("batched-ack")
        .build();
  }

  // ---- inbound (transport thread: hand off only) -------------------------------------------

  @Override
  public void onNext(Envelope envelope) {
    switch (envelope.getBodyCase()) {
      case HELLO -> serial.execute(() -> onHello(envelope.getHello()));
      case CHANGES -> {
        if (state != State.STREAMING) {
          serial.execute(() -> fail(Status.INVALID_ARGUMENT, "the first message must be a Hello, got a ChangeBatch"));
          return;
        }
        ChangeBatch batch = envelope.getChanges();
        changesReceived.addAndGet(batch.getChangesCount());
        applySerial.execute(() -> {
          Ack ack = host.apply(peerName, batch);
          long rejected = ack.getOutcomesList().stream()
              .filter(o -> o.getStatus() == OutcomeStatus.REJECTED).count();
          changesRejectedHere.addAndGet(rejected);
          serial.execute(() -> {
            if (state == State.STREAMING) {
              pendingAcks.add(ack);
              out.request(1);
              drain();
            }
          });
        });
      }
      case ACK -> serial.execute(() -> onAck(envelope.getAck()));
      default -> serial.execute(() -> {
        // a newer peer's message kind: skip it, but keep the stream going
        LOG.debugf("Ignoring an envelope of an unknown kind from peer '%s'", peerName);
        if (state != State.CLOSED) {
          out.request(1);
        }
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
    peerName = name;
    String refusal = host.register(this);
    if (refusal != null) {
      peerName = null; // not registered: unregister must not remove the other connection
      fail(Status.ALREADY_EXISTS, refusal);
      return;
    }
    if (!dialer) {
      out.onNext(Envelope.newBuilder().setHello(hello()).build());
    }
    state = State.STREAMING;
    since = Instant.now();
    LOG.infof("Node '%s' connected to peer '%s' (%s, %s)", host.nodeName(), name,
        dialer ? "dialed" : "accepted", address);
    out.request(host.applyWindow());
    drain();
  }

  private void onAck(Ack ack) {
    Integer count = inFlight.remove(ack.getRequestId());
    if (count == null) {
      LOG.warnf("Peer '%s' acknowledged unknown request %d", peerName, ack.getRequestId());
      out.request(1);
      return;
    }
    for (Outcome outcome : ack.getOutcomesList()) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED) {
        changesRejectedByPeer.incrementAndGet();
        // log each reason once at WARN (the receiver logs every rejection), then at DEBUG
        long seen = rejectionsLogged.merge(outcome.getReason(), 1L, Long::sum);
        if (seen == 1) {
          LOG.warnf("Peer '%s' rejected a change (%s): %s (further %s rejections from this peer are logged at DEBUG)",
              peerName, outcome.getReason(), outcome.getMessage(), outcome.getReason());
        } else {
          LOG.debugf("Peer '%s' rejected a change (%s): %s", peerName, outcome.getReason(), outcome.getMessage());
        }
      } else {
        changesAcknowledged.incrementAndGet();
      }
    }
    out.request(1);
    checkCaughtUp();
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
      Ack ack = pendingAcks.poll();
      if (ack != null) {
        out.onNext(Envelope.newBuilder().setAck(ack).build());
        continue;
      }
      List<Change> batch = outbox.poll(host.outboxBatchSize());
      if (batch.isEmpty()) {
        break;
      }
      long requestId = ++nextRequestId;
      inFlight.put(requestId, batch.size());
      changesSent.addAndGet(batch.size());
      out.onNext(Envelope.newBuilder()
          .setChanges(ChangeBatch.newBuilder().setRequestId(requestId).addAllChanges(batch))
          .build());
    }
    checkCaughtUp();
  }

  private void checkCaughtUp() {
    if (!caughtUpWaiters.isEmpty() && inFlight.isEmpty() && outbox.size() == 0) {
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
    if (wasStreaming) {
      LOG.infof("Node '%s' disconnected from peer '%s': %s", host.nodeName(), peerName, why);
    }
    caughtUpWaiters.forEach(f -> f.completeExceptionally(new IllegalStateException(
        "the connection with peer '" + peerName + "' ended: " + why)));
    caughtUpWaiters.clear();
    host.unregister(this);
    closedFuture.complete(null);
  }

  // ---- any thread ---------------------------------------------------------------------------

  /** Queues a committed change for this peer. Never blocks on the network. */
  public void offer(Outgoing change) {
    if (state == State.CLOSED) {
      return;
    }
    outbox.offer(change);
    requestDrain();
  }

  /** Completes when everything offered so far has been answered by the peer. */
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
}
