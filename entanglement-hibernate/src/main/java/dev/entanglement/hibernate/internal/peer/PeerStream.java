package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.internal.core.SerialExecutor;
import dev.entanglement.hibernate.internal.core.Ticker;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Heartbeat;
import io.grpc.Status;
import io.grpc.stub.CallStreamObserver;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.IntSupplier;
import java.util.function.UnaryOperator;

/**
 * Sends on one gRPC stream: drains the {@link UrgentQueue} and then the {@link Source} of
 * changes while the stream is ready ({@code isReady}/{@code onReady}), paced by the
 * {@link TokenBucket}; grants the peer's messages (withheld while paused); sends heartbeats and
 * detects a silent peer and a stalled stream (changes wait, nothing leaves), on the injected
 * {@link Ticker}.
 *
 * <h2>Concurrency</h2>
 * gRPC's outbound observer is not thread-safe, so {@code out} and these fields are confined to
 * the connection's serial executor: {@code urgent}, {@code source}, {@code open},
 * {@code granted}, {@code withheldGrants}, {@code bucket}, {@code tick}, {@code pacedDrain},
 * {@code pacedDrainPending}, {@code lastSentNanos}, {@code peerName}, {@code screen}. {@code paused} is written
 * on the serial executor and read anywhere (volatile); {@code lastReceivedNanos} is written on
 * the transport thread (volatile). {@code drainScheduled}, {@code positionFlushScheduled} and
 * {@code requestsReserved} are atomics, used from any thread. Nothing here blocks.
 */
final class PeerStream {
  /** Where the changes come from, asked on the serial executor only while not paused. */
  interface Source {
    /** The next message of changes (or a marker) to send within about {@code byteBudget}, null if none now. */
    Envelope next(long byteBudget);

    /** An empty batch carrying positions that moved without a change, or null if none moved. */
    Envelope positionsOnly();

    /** Called after every drain pass. */
    void drained(boolean nothingUrgent);
  }

  /** What the heartbeat tick should do. */
  enum Beat { NOTHING, HEARTBEAT, SILENT }

  private final PeerHost host;
  private final SerialExecutor serial;
  private final PeerStats stats;
  private final Ticker ticker;
  private final BiConsumer<Status, String> fail;
  private final UrgentQueue urgent = new UrgentQueue();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();
  private final AtomicBoolean positionFlushScheduled = new AtomicBoolean();
  private final AtomicInteger requestsReserved = new AtomicInteger();
  private Source source;
  private CallStreamObserver<Envelope> out;
  private boolean open;
  private long granted = 1; // messages requested from the peer so far (1: the Hello)
  private int withheldGrants;
  private TokenBucket bucket;
  private ScheduledFuture<?> tick;
  private ScheduledFuture<?> pacedDrain;
  private boolean pacedDrainPending;
  private long lastSentNanos;
  private String peerName;
  /** Changes waiting for the peer (the outbox), for stall detection; thread-safe. */
  private IntSupplier waiting = () -> 0;
  private UnaryOperator<Envelope> screen = UnaryOperator.identity();
  private volatile long lastReceivedNanos;
  private volatile boolean paused;

  PeerStream(PeerHost host, SerialExecutor serial, PeerStats stats, BiConsumer<Status, String> fail) {
    this.host = host;
    this.serial = serial;
    this.stats = stats;
    this.ticker = host.ticker();
    this.fail = fail;
    this.lastReceivedNanos = ticker.nanos();
  }

  void source(Source source) {
    this.source = source;
  }

  /** How many changes wait for the peer: with any waiting, a stream that sends nothing is stalled. */
  void waiting(IntSupplier waiting) {
    this.waiting = waiting;
  }

  /** Installs the outbound observer (during gRPC's initial call). */
  void attach(CallStreamObserver<Envelope> outbound) {
    this.out = outbound;
    outbound.setOnReadyHandler(this::requestDrain);
  }

  /** The handshake with {@code peer} succeeded: start pacing, heartbeats and draining. Serial. */
  void start(String peer) {
    peerName = peer;
    open = true;
    lastSentNanos = ticker.nanos();
    bucket = new TokenBucket(host.bandwidthLimit(), ticker.nanos());
    long every = host.heartbeatInterval().toMillis();
    tick = host.scheduler().scheduleAtFixedRate(() -> serial.execute(this::tick), every, every, TimeUnit.MILLISECONDS);
  }

  /** The stream ended: stop every timer. Serial. */
  void stop() {
    open = false;
    if (tick != null) {
      tick.cancel(false);
    }
    if (pacedDrain != null) {
      pacedDrain.cancel(false);
    }
    requestsReserved.set(0);
  }

  /** Ends the stream with an error status (if it was attached). Serial. */
  void error(Status status) {
    if (out != null) {
      out.onError(status.asRuntimeException());
    }
  }

  /** Ends the stream politely (if it was attached). Serial. */
  void complete() {
    if (out != null) {
      out.onCompleted();
    }
  }

  /** A message arrived (transport thread). */
  void received() {
    lastReceivedNanos = ticker.nanos();
  }

  /**
   * The last check of every envelope before it goes: for a browser, what it may not learn is
   * taken out ({@link PeerView#outbound}); null drops the envelope. Serial.
   */
  void screen(UnaryOperator<Envelope> screen) {
    this.screen = screen;
  }

  /** Sends one message now, ahead of everything (the Hello). Serial. */
  void send(Envelope message) {
    Envelope envelope = screen.apply(message);
    if (envelope == null) {
      return;
    }
    int size = envelope.getSerializedSize();
    stats.sent(size);
    long now = ticker.nanos();
    if (bucket != null) {
      bucket.spend(size, now);
    }
    lastSentNanos = now;
    out.onNext(envelope);
  }

  /**
   * Reserves room for an update request before it is handed to the serial executor; false past
   * {@link UrgentQueue#MAX_REQUESTS} unsent ones (the caller then keeps or refuses the request).
   * Any thread.
   */
  boolean reserveRequest() {
    if (requestsReserved.incrementAndGet() > UrgentQueue.MAX_REQUESTS) {
      requestsReserved.decrementAndGet();
      return false;
    }
    return true;
  }

  /** Queues a control message ahead of waiting changes and drains. Serial. */
  void urgent(Envelope envelope) {
    if (!open) {
      return;
    }
    if (urgent.offer(envelope) == UrgentQueue.Offered.OVERFLOW) {
      fail.accept(Status.RESOURCE_EXHAUSTED, ("more than %d %s messages wait to be sent to the peer (at most %d "
          + "control messages in all): the peer does not read them").formatted(
          UrgentQueue.cap(envelope.getBodyCase()), envelope.getBodyCase(), UrgentQueue.MAX_TOTAL));
      return;
    }
    drain();
  }

  /** Lets the peer send {@code messages} more (withheld while paused). Serial. */
  void grant(int messages) {
    if (!open) {
      return;
    }
    if (paused) {
      withheldGrants += messages; // the peer's sending waits in gRPC flow control
      return;
    }
    granted += messages;
    out.request(messages);
  }

  /** Lets the peer send one more handshake message (its positions after the Hellos). Serial. */
  void grantHandshake() {
    out.request(1);
  }

  boolean paused() {
    return paused;
  }

  /** Pauses sending changes and granting messages. Serial (or before anything flows). */
  void pause() {
    paused = true;
  }

  /** Resumes: grants what was withheld and drains. Serial. */
  void resume() {
    paused = false;
    int withheld = withheldGrants;
    withheldGrants = 0;
    if (withheld > 0) {
      grant(withheld);
    }
    drain();
  }

  /** Schedules a drain on the serial executor (any thread); coalesces concurrent requests. */
  void requestDrain() {
    if (drainScheduled.compareAndSet(false, true)) {
      serial.execute(() -> {
        drainScheduled.set(false); // clear first: an offer racing with this drain schedules another
        drain();
      });
    }
  }

  /** Sends while the stream is ready: urgent messages first, then changes unless paused. Serial. */
  void drain() {
    if (!open) {
      return;
    }
    while (out.isReady()) {
      long wait = bucket.waitNanos(ticker.nanos());
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
        if (next.hasUpdateRequest()) {
          requestsReserved.decrementAndGet();
        }
        send(next);
        continue;
      }
      if (paused) {
        return;
      }
      // the peer refuses messages over its limit: keep batches well under it (one change may
      // still be larger, and is refused there naming the setting)
      Envelope changes = source.next(Math.min(bucket.messageBudget(), host.maxMessageBytes() / 2));
      if (changes == null) {
        break;
      }
      send(changes);
    }
    source.drained(urgent.isEmpty());
  }

  /**
   * Positions may have moved without a change to send: in {@code delayMillis}, send them in an
   * empty batch unless a batch with changes carried them first. At most one such message per
   * {@code delayMillis}. Any thread.
   */
  void flushPositionsSoon(long delayMillis) {
    if (positionFlushScheduled.compareAndSet(false, true)) {
      host.scheduler().schedule(() -> serial.execute(() -> {
        positionFlushScheduled.set(false);
        flushPositions();
      }), delayMillis, TimeUnit.MILLISECONDS);
    }
  }

  /** Sends an empty batch if positions moved and nothing else would carry them. Serial. */
  private void flushPositions() {
    if (open && out.isReady()) {
      Envelope positions = source.positionsOnly();
      if (positions != null) {
        send(positions);
      }
    }
  }

  boolean nothingUrgent() {
    return urgent.isEmpty();
  }

  /** Every heartbeat interval: show signs of life, report progress, detect a silent peer. Serial. */
  void tick() {
    if (!open) {
      return;
    }
    long now = ticker.nanos();
    int queued = urgent.size() + waiting.getAsInt();
    if (stalled(now, lastSentNanos, paused ? 0 : queued, host.stallTimeout())) {
      fail.accept(Status.UNAVAILABLE, ("the stream with peer '%s' made no progress for %d ms while %d messages wait "
          + "for it (entanglement.peer.stall_timeout_ms is %d): the peer does not read; it catches up from the "
          + "database after reconnecting").formatted(peerName, TimeUnit.NANOSECONDS.toMillis(now - lastSentNanos),
          queued, host.stallTimeout().toMillis()));
      return;
    }
    long outstanding = granted - stats.messagesReceived();
    switch (beat(now, lastReceivedNanos, lastSentNanos, outstanding, host.heartbeatInterval(), host.heartbeatTimeout())) {
      case SILENT -> fail.accept(Status.UNAVAILABLE, "peer '%s' sent nothing for %d ms (entanglement.heartbeat.timeout_ms is %d)"
          .formatted(peerName, TimeUnit.NANOSECONDS.toMillis(now - lastReceivedNanos), host.heartbeatTimeout().toMillis()));
      case HEARTBEAT -> {
        if (out.isReady()) {
          Envelope positions = source.positionsOnly(); // the position moved (e.g. rolled-back serials)
          send(positions != null ? positions : Envelope.newBuilder().setHeartbeat(Heartbeat.getDefaultInstance()).build());
        }
      }
      case NOTHING -> { }
    }
  }

  /**
   * The stall decision, a pure function of the clock: something waits to be sent (and the flow
   * is not paused) yet nothing left for the timeout. Heartbeats the peer sends do not count: a
   * peer that never reads leaves this node's stream not ready, so nothing is sent.
   */
  static boolean stalled(long now, long lastSent, int waiting, Duration timeout) {
    return waiting > 0 && now - lastSent > timeout.toNanos();
  }

  /**
   * The heartbeat decision, a pure function of the clock: the peer is silent when it owes
   * messages (granted, not received) and sent nothing for the timeout; a heartbeat is due when
   * this side sent nothing for half the interval.
   */
  static Beat beat(long now, long lastReceived, long lastSent, long outstanding, Duration interval, Duration timeout) {
    if (outstanding > 0 && now - lastReceived > timeout.toNanos()) {
      return Beat.SILENT;
    }
    if (now - lastSent >= interval.toNanos() / 2) {
      return Beat.HEARTBEAT;
    }
    return Beat.NOTHING;
  }
}
