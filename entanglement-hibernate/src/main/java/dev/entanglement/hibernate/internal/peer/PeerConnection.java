package dev.entanglement.hibernate.internal.peer;

import java.util.concurrent.ConcurrentHashMap;
import dev.entanglement.hibernate.CatchUpReport;
import dev.entanglement.hibernate.PeerIdentity;
import dev.entanglement.hibernate.ResyncMode;
import dev.entanglement.hibernate.ResyncReport;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.core.SerialExecutor;
import dev.entanglement.hibernate.internal.transport.QuietLog;
import dev.entanglement.hibernate.internal.transport.StreamHandler;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.ResyncRequest;
import io.grpc.Status;
import io.grpc.stub.CallStreamObserver;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * One Exchange stream with one peer, whichever side dialed: the façade the node, admin, metrics
 * and ephemeral objects use, and the lifecycle (handshaking, streaming, closed) of the stream.
 * The work is done by {@link Handshake} (the Hello check), {@link InboundDispatcher} (received
 * envelopes), {@link PeerStream} (sending, grants, heartbeats), {@link CatchUpPlanner} with
 * {@link PositionTracker} (what to send and how far the peer is complete) and {@link PeerStats}.
 *
 * <h2>Concurrency</h2>
 * Lifecycle changes run on {@code serial}, a serial executor over the node's pool, which also
 * owns the stream, the planner and the outbound observer; received batches and markers are
 * applied on {@code applySerial}. {@code state}, {@code peerName}, {@code identity},
 * {@code since}, {@code certificate} and {@code view} are written on the serial executor (the certificate by
 * the transport before the Hello is handled) and read anywhere (volatile); {@code closedFuture}
 * is completed once, on the serial executor. The outbox is thread-safe and is filled by
 * committing application threads, which never wait for the network.
 */
public final class PeerConnection implements StreamHandler {
  private static final Logger LOG = Logger.getLogger(PeerConnection.class);
  /** A node's positions drive its acknowledgements and caught-up reports: told within 20 ms. */
  static final long NODE_POSITION_FLUSH_MILLIS = 20;
  /**
   * A browser uses its positions only in its next Hello (a position that lags costs that Hello's
   * catch-up a few objects sent again). Every commit moves the positions of every tab that holds
   * an object of the owner, whether or not the tab sees the change: at one empty batch per 20 ms,
   * 1,000 tabs each seeing 3% of 100 changes/s got about 35 frames a second each and answered
   * every one (the browsers benchmark, section 11).
   */
  static final long BROWSER_POSITION_FLUSH_MILLIS = 1000;

  /** The protocol version this node speaks. */
  public static final int PROTOCOL_VERSION = Handshake.PROTOCOL_VERSION;

  /** Where a connection is in its life. */
  public enum State { HANDSHAKING, STREAMING, CLOSED }

  private final PeerHost host;
  private final boolean dialer;
  private final String address;
  /** For a browser's stream (WebSocket), the name the application gave it; null for a node. */
  private final String browser;
  private final SerialExecutor serial;
  private final SerialExecutor applySerial;
  private final PeerOutbox outbox = new PeerOutbox();
  /**
   * The keys of the ephemeral objects sent on this stream and not removed since: those the peer
   * may hold, so a withdrawal goes to it when one becomes denied. At most one per ephemeral object
   * this node holds (the store's bounds).
   */
  private final Set<String> ephemeralsSent = ConcurrentHashMap.newKeySet();
  /** Set once the outbox went past its bound: the stream is being closed (any thread). */
  private final AtomicBoolean outboxOverflowed = new AtomicBoolean();
  private final PeerStats stats = new PeerStats();
  private final SendFailures sendFailures;
  private final PeerStream stream;
  private final CatchUpPlanner planner;
  private final InboundDispatcher inbound;
  private final CompletableFuture<Void> closedFuture = new CompletableFuture<>();

  private volatile State state = State.HANDSHAKING;
  private volatile String peerName;
  private volatile PeerIdentity identity;
  private volatile Instant since = Instant.now();
  private volatile Handshake.Certificate certificate;
  /** What the peer may be told: set when its Hello is accepted (serial), read anywhere. */
  private volatile PeerView view;
  /** An accepted dialer's first Hello while its positions are awaited (serial); null otherwise. */
  private Hello helloFirst;
  /** Tasks for when the stream opens, queued while the dialer's positions are awaited (serial; one per listener). */
  private final List<Runnable> whenOpen = new ArrayList<>();

  /**
   * @param dialer whether this node opened the stream (it sends Hello first)
   * @param address the peer's address as dialed, or a description of the inbound call
   */
  public PeerConnection(PeerHost host, boolean dialer, String address) {
    this(host, dialer, address, null);
  }

  /**
   * A browser's stream: accepted over WebSocket, the browser identified by the application as
   * {@code browser} (see {@link BrowserRules} for what it may send).
   */
  public static PeerConnection browser(PeerHost host, String browser, String address) {
    return new PeerConnection(host, false, address, browser);
  }

  private PeerConnection(PeerHost host, boolean dialer, String address, String browser) {
    this.host = host;
    this.dialer = dialer;
    this.address = address;
    this.browser = browser;
    this.serial = new SerialExecutor(host.pool());
    this.applySerial = new SerialExecutor(host.pool());
    this.sendFailures = new SendFailures(host.sendRetryInitialDelay(), host.sendRetryMaxDelay());
    this.stream = new PeerStream(host, serial, stats, this::fail);
    this.planner = new CatchUpPlanner(host, outbox, stats, serial, this::fail, sendFailures);
    this.stream.source(planner);
    this.stream.waiting(outbox::size);
    this.planner.drainWith(stream::drain);
    this.inbound = new InboundDispatcher(this, host, serial, applySerial, stream, planner, stats);
  }

  @Override
  public void attach(CallStreamObserver<Envelope> outbound) {
    stream.attach(outbound);
    // a link that swallows everything (black hole) must not leave a handshake waiting for ever
    long timeout = host.heartbeatTimeout().toMillis();
    host.scheduler().schedule(() -> serial.execute(() -> {
      if (state == State.HANDSHAKING) {
        fail(Status.UNAVAILABLE, "no Hello from %s within %d ms (entanglement.heartbeat.timeout_ms)"
            .formatted(address, timeout));
      }
    }), timeout, TimeUnit.MILLISECONDS);
  }

  @Override
  public void sendHello() {
    serial.execute(() -> {
      if (state == State.HANDSHAKING) {
        stream.send(hello());
      }
    });
  }

  /** {@code hello} with this node's signing capability and certificate chain, when it signs. */
  private Hello signed(Hello hello) {
    return host.signer() == null ? hello
        : hello.toBuilder().addCapabilities(Handshake.SIGNED_STATE).addAllCertificates(host.signer().chain()).build();
  }

  private Envelope hello() {
    if (browser == null && dialer && peerName == null) {
      // who answers the address is not known yet: the positions follow once it is (Handshake.POSITIONS_FOLLOW)
      return Envelope.newBuilder().setHello(signed(Handshake.hello(host.nodeName(), List.of()))).build();
    }
    if (browser == null) {
      // screened by the peer's view: only owners it may name (PeerView#outbound)
      return Envelope.newBuilder().setHello(signed(Handshake.hello(host.nodeName(), host.helloPositions()))).build();
    }
    // a browser sends nothing persistent, so it needs no positions (and they would name every
    // owner held here); it learns the name the application gave it, which its ephemeral objects take
    return Envelope.newBuilder().setHello(Handshake.hello(host.nodeName(), List.of()).toBuilder()
        .setPeerName(browser)).build();
  }

  // ---- inbound (transport thread) -----------------------------------------------------------

  @Override
  public void onNext(Envelope envelope) {
    inbound.onNext(envelope);
  }

  @Override
  public void unreadable(String problem) {
    serial.execute(() -> refuse(Status.INVALID_ARGUMENT, "unreadable", "peer %s sent %s".formatted(who(), problem)));
  }

  @Override
  public void oversized(long limit) {
    serial.execute(() -> refuse(Status.RESOURCE_EXHAUSTED, "oversized", ("peer %s sent a message of more than %d bytes "
        + "(entanglement.peer.max_message_bytes); it was refused before it was read whole").formatted(who(), limit)));
  }

  /** Bad input from the peer that ends the stream: logged once per peer and kind a minute. Serial. */
  private void refuse(Status status, String kind, String description) {
    if (state == State.CLOSED) {
      return;
    }
    String line = "Node '%s' closes the stream: %s".formatted(host.nodeName(), description);
    if (QuietLog.first(host.nodeName() + " " + kind + " " + who())) {
      LOG.warnf("%s (repeats are logged at DEBUG for a minute)", line);
    } else {
      LOG.debugf("%s", line);
    }
    end(status.withDescription(description));
  }

  private String who() {
    return peerName != null ? "'" + peerName + "'" : address;
  }

  @Override
  public void onError(Throwable t) {
    serial.execute(() -> closed("stream failed: " + Status.fromThrowable(t)));
  }

  @Override
  public void onCompleted() {
    serial.execute(() -> {
      if (state != State.CLOSED) {
        stream.complete();
      }
      closed("peer closed the stream");
    });
  }

  // ---- lifecycle (serial) -------------------------------------------------------------------

  boolean streaming() {
    return state == State.STREAMING;
  }

  /** The peer's Hello, the first it sent: accept the peer, or end the stream saying why. Serial. */
  void onHello(Hello hello) {
    if (state != State.HANDSHAKING) {
      fail(Status.INVALID_ARGUMENT, "a second Hello on an open stream");
      return;
    }
    if (browser != null) {
      Hello named = BrowserRules.hello(hello, browser);
      if (named == null) {
        fail(Status.PERMISSION_DENIED, "the browser's Hello names '%s', but the application identified it as '%s'"
            .formatted(hello.getNodeName(), browser));
        return;
      }
      hello = named;
      // what it may hear of: besides what it is sent, the owners it holds of those this node knows
      Set<String> known = new HashSet<>();
      host.heldPositions().forEach(p -> known.add(p.getOwner()));
      Set<String> held = new HashSet<>();
      hello.getOwnersList().forEach(p -> {
        if (known.contains(p.getOwner())) {
          held.add(p.getOwner());
        }
      });
      PeerView browserView = PeerView.browser(browser, host.nodeName(), held);
      view = browserView;
      stream.screen(browserView::outbound);
    }
    Handshake.Result result = Handshake.check(hello, new Handshake.Context(host.nodeName(), dialer, address), certificate);
    if (result instanceof Handshake.Refused refused) {
      if (refused.reason() == Handshake.Reason.CERTIFICATE_MISMATCH) {
        logQuietly(refused.description());
        end(refused.status());
      } else {
        fail(refused.status());
      }
      return;
    }
    if (browser == null && host.signerKeys() != null) {
      String problem = Handshake.signingProblem(hello, host.nodeName(), host.signerKeys());
      if (problem != null) {
        logQuietly(problem);
        end(Status.FAILED_PRECONDITION.withDescription(problem));
        return;
      }
      planner.positions().signing(new StreamSigning(host.signer(), host.signerKeys(), host::hostsBrowser,
          hello.getNodeName(), host::handoverChain));
    }
    identity = ((Handshake.Accepted) result).identity();
    peerName = identity.name();
    if (browser == null) {
      nodeView(hello);
    }
    // live changes reach the outbox from now on; the catch-up read starts after this, so every
    // change is in one or the other (or both: the outbox keeps the newer)
    String refusal = host.register(this);
    if (refusal != null) {
      peerName = null; // not registered: unregister must not remove the other connection
      fail(Status.ALREADY_EXISTS, refusal);
      return;
    }
    boolean follow = browser == null && Handshake.positionsFollow(hello);
    if (!dialer) {
      stream.send(hello());
      if (follow) {
        helloFirst = hello; // the catch-up is planned when the dialer's positions arrive (onPositions)
        stream.grantHandshake();
        return;
      }
    } else if (follow) {
      stream.send(hello()); // this node's positions, now that it knows who answered (screened by its view)
    }
    open(hello);
  }

  /**
   * The view of a node peer: besides what it is sent, it may hear of the owners its Hello named
   * and those it acknowledged before, of those this node knows (issue 17: a name the policies hide
   * from it stays hidden). Serial.
   */
  private void nodeView(Hello hello) {
    Set<String> known = new HashSet<>();
    host.heldPositions().forEach(p -> known.add(p.getOwner()));
    Set<String> named = new HashSet<>(host.acknowledgedOwners(peerName));
    hello.getOwnersList().forEach(p -> named.add(p.getOwner()));
    named.retainAll(known);
    String peer = peerName;
    PeerView nodeView = PeerView.node(peer, host.nodeName(), named, owner -> host.ownerShown(peer, owner));
    view = nodeView;
    stream.screen(nodeView::outbound);
  }

  /**
   * The dialer's second Hello, its positions once it knew who answered ({@link
   * Handshake#POSITIONS_FOLLOW}): the catch-up is planned from them. Any other second Hello ends
   * the stream. Serial.
   */
  void onPositions(Hello positions) {
    Hello first = helloFirst;
    if (state != State.HANDSHAKING || first == null) {
      fail(Status.INVALID_ARGUMENT, "a second Hello on an open stream");
      return;
    }
    if (!positions.getNodeName().equals(peerName)) {
      fail(Status.INVALID_ARGUMENT, "peer '%s' sent its positions under the name '%s'; expected its own name"
          .formatted(peerName, positions.getNodeName()));
      return;
    }
    helloFirst = null;
    Hello hello = first.toBuilder().clearOwners().addAllOwners(positions.getOwnersList()).build();
    nodeView(hello);
    open(hello);
  }

  /** The Hellos are exchanged: stream, and bring the peer up to date. Serial. */
  private void open(Hello hello) {
    state = State.STREAMING;
    since = Instant.now();
    stream.start(peerName);
    planner.start(hello, view);
    LOG.infof("Node '%s' connected to %s '%s' (%s, %s)", host.nodeName(), browser != null ? "browser" : "peer",
        peerName, dialer ? "dialed" : "accepted", address);
    stream.grant(host.applyWindow());
    stream.drain();
    List<Runnable> tasks = List.copyOf(whenOpen);
    whenOpen.clear();
    tasks.forEach(Runnable::run);
  }

  /** One WARN per kind of refusal a minute (the peer redials); the port changes with every dial. */
  private void logQuietly(String description) {
    String line = Character.toUpperCase(description.charAt(0)) + description.substring(1);
    if (QuietLog.first(host.nodeName() + description.replaceAll(":[0-9]+: ", ": "))) {
      LOG.warnf("%s (repeats are logged at DEBUG for a minute)", line);
    } else {
      LOG.debugf("%s", line);
    }
  }

  /** Ends the stream with an error, logged at WARN. Serial. */
  void fail(Status status, String description) {
    fail(status.withDescription(description));
  }

  private void fail(Status status) {
    if (state == State.CLOSED) {
      return;
    }
    LOG.warnf("Node '%s' closes the stream with %s: %s", host.nodeName(),
        peerName != null ? "peer '" + peerName + "'" : address, status.getDescription());
    end(status);
  }

  /** Ends the stream with an error status, the reason already logged. Serial. */
  private void end(Status status) {
    if (state == State.CLOSED) {
      return;
    }
    stream.error(status);
    closed(status.getDescription());
  }

  private void closed(String why) {
    if (state == State.CLOSED) {
      return;
    }
    boolean wasStreaming = state == State.STREAMING;
    state = State.CLOSED;
    whenOpen.clear(); // never opened: its tasks would find it closed
    since = Instant.now();
    stream.stop();
    if (wasStreaming) {
      LOG.infof("Node '%s' disconnected from peer '%s': %s", host.nodeName(), peerName, why);
    }
    planner.closed(new IllegalStateException("the connection with peer '" + peerName + "' ended: " + why));
    host.unregister(this);
    closedFuture.complete(null);
  }

  // ---- any thread ---------------------------------------------------------------------------

  /**
   * Positions may have moved without a change to send (a transaction finished after its change
   * left, a relayed owner's position advanced): tell the peer soon, in an empty batch, unless a
   * batch with changes carries it first. At most one such message per
   * {@value #NODE_POSITION_FLUSH_MILLIS} ms to a node, per {@value #BROWSER_POSITION_FLUSH_MILLIS}
   * ms to a browser.
   */
  public void positionsMayMove() {
    if (state == State.STREAMING) {
      stream.flushPositionsSoon(browser != null ? BROWSER_POSITION_FLUSH_MILLIS : NODE_POSITION_FLUSH_MILLIS);
    }
  }

  /**
   * Sends a small control message (update request, outcome, transition) ahead of waiting
   * changes. Returns false if the connection is not open, or for an update request if too many
   * wait unsent already ({@link UrgentQueue} states the policy of each kind). Never blocks.
   */
  public boolean sendUrgent(Envelope envelope) {
    if (state != State.STREAMING) {
      return false;
    }
    if (envelope.hasUpdateRequest() && !stream.reserveRequest()) {
      LOG.debugf("Node '%s' refuses to queue another update request for peer '%s': %d wait unsent",
          host.nodeName(), peerName, UrgentQueue.MAX_REQUESTS);
      return false;
    }
    serial.execute(() -> stream.urgent(envelope));
    return true;
  }

  /**
   * Runs {@code task} on this connection's serial executor once the Hello exchange that is in
   * progress has finished, if the stream is then open: for what a peer must be told as soon as it
   * is registered (registration happens inside the Hello exchange, before the stream counts as
   * open). Never blocks.
   */
  public void whenOpen(Runnable task) {
    serial.execute(() -> {
      if (state == State.STREAMING) {
        task.run();
      } else if (state == State.HANDSHAKING && peerName != null) {
        whenOpen.add(task); // registered, awaiting the dialer's positions (Handshake.POSITIONS_FOLLOW)
      }
    });
  }

  /**
   * Queues a committed change for this peer. Never blocks on the network, never throws: if the
   * send policies cannot decide it (they throw), the change is held for a catch-up instead
   * ({@link #notOffered}).
   */
  public void offer(Outgoing change) {
    if (state == State.CLOSED) {
      return;
    }
    try {
      Outgoing decided = change.change().getEphemeral() ? ephemeral(change) : host.toSend(peerName, change, -1);
      if (decided == null) {
        return;
      }
      change = decided; // the change, or its withdrawal
    } catch (RuntimeException e) {
      Change wire = change.change();
      notOffered(wire.getOwner(), wire.getEphemeral() ? -1 : wire.getSerial(), "decide the send policies of",
          change.key(), e);
      return;
    }
    outbox.offer(change);
    if (outbox.size() > host.outboxMaxEntries() && outboxOverflowed.compareAndSet(false, true)) {
      // the peer does not keep up: memory stays bounded, and the database has everything it lacks
      serial.execute(() -> fail(Status.RESOURCE_EXHAUSTED, ("peer '%s' does not keep up: its outbox holds more than "
          + "%d changes (entanglement.outbox.max_entries); it catches up from the database after reconnecting")
          .formatted(peerName, host.outboxMaxEntries())));
    }
    stream.requestDrain();
  }

  /**
   * What goes to this peer of an ephemeral change. Ephemeral objects live in memory only, so
   * whether the peer may hold one is known exactly: it was sent the object on this stream and not
   * its removal ({@link #ephemeralsSent}). A state the policies deny to such a peer becomes a
   * withdrawal; a withdrawal being passed on goes only to such a peer; a peer never sent the object
   * hears nothing of its withdrawal (docs/design/withdrawal.md). Ephemeral sends reach the outboxes
   * one at a time (the store's send queue), so the check and the update do not race.
   */
  private Outgoing ephemeral(Outgoing change) {
    Change wire = change.change();
    if (wire.getOperation() == Operation.WITHDRAW) {
      return ephemeralsSent.remove(change.key()) ? change : null;
    }
    Outgoing decided = host.toSend(peerName, change, -1);
    if (decided == null) {
      if (wire.getOperation() != Operation.UPSERT || !ephemeralsSent.remove(change.key())) {
        return null;
      }
      Outgoing withdrawal = new Outgoing(change.key(), change.priority(), change.coalesce(), wire.toBuilder()
          .clearAttributes().clearTtlMs().setOperation(Operation.WITHDRAW).build());
      host.withdrawing(peerName, withdrawal);
      return withdrawal;
    }
    if (wire.getOperation() == Operation.UPSERT) {
      ephemeralsSent.add(change.key());
    } else {
      ephemeralsSent.remove(change.key());
    }
    return decided;
  }

  /**
   * A committed change of {@code owner} with {@code changeSerial} could not be offered to this peer
   * (its policy threw, or it could not be made): the peer's position of the owner stays below
   * it, and after a backoff the owner's objects from there are read again from the database (a
   * catch-up on this stream, decided by the policies again). The failure is logged once per peer
   * and kind a minute. An ephemeral change ({@code changeSerial} -1) lives in memory only: it is
   * logged and not sent. Any thread (the committing one included), before the serial counts as
   * finished. Never blocks, never throws.
   */
  public void notOffered(String owner, long changeSerial, String where, String what, Throwable cause) {
    sendFailures.failed(host.nodeName(), String.valueOf(peerName), where, what, cause);
    if (changeSerial < 0 || state == State.CLOSED || !outbox.hold(owner, changeSerial)) {
      return; // ephemeral, or a retry of the owner is scheduled already (from the lowest held serial)
    }
    host.scheduler().schedule(() -> serial.execute(() -> {
      long from = outbox.release(owner);
      if (state == State.STREAMING && from != Long.MAX_VALUE) {
        planner.catchUpFrom(owner, from - 1);
        stream.drain();
      }
    }), sendFailures.nextDelayMillis(), TimeUnit.MILLISECONDS);
  }

  /**
   * Completes when everything offered so far (and the catch-up) has been answered by the peer,
   * with what the peer holds parked of it. The changes the peer answered as parked before are
   * sent once more first (the peer answers those it applied since, on its own retry, as already
   * current), so the report says what is parked there now.
   */
  public CompletableFuture<CatchUpReport> caughtUp() {
    CompletableFuture<CatchUpReport> result = new CompletableFuture<>();
    serial.execute(() -> {
      if (state == State.CLOSED) {
        result.completeExceptionally(new IllegalStateException("the connection with peer '" + peerName + "' is closed"));
        return;
      }
      answered().whenComplete((done, failed) -> {
        if (failed != null) {
          result.completeExceptionally(failed);
          return;
        }
        ParkedAtPeer parked = parkedAtPeer();
        List<Change> toCheck = parked.toCheck();
        if (toCheck.isEmpty()) {
          result.complete(parked.report(peerName));
          return;
        }
        // off the serial executor: the send policies are asked again (they may read the database)
        host.pool().execute(() -> {
          List<Change> allowed = new ArrayList<>(toCheck.size());
          for (Change change : toCheck) {
            try {
              // only this node's current state is sent again: an older one could bring back
              // what was deleted since (its tombstone may be compacted at the peer)
              Outgoing again = host.resendable(change);
              if (again == null) {
                String key = host.objectKey(change);
                if (key != null) {
                  parked.superseded(key, change); // a newer state went (or goes) the usual way
                }
              } else if (!host.sendDenied(peerName, again)) {
                allowed.add(change);
              }
            } catch (RuntimeException e) {
              // not checked this time: still reported as parked
            }
          }
          serial.execute(() -> {
            if (state != State.STREAMING) {
              result.completeExceptionally(new IllegalStateException("the connection with peer '" + peerName + "' ended"));
              return;
            }
            if (!allowed.isEmpty()) {
              planner.recheck(allowed); // answered as usual, not counted again
              stream.drain();
            }
            answered().whenComplete((checked, error) -> {
              if (error != null) {
                result.completeExceptionally(error);
              } else {
                result.complete(parked.report(peerName));
              }
            });
          });
        });
      });
    });
    return result;
  }

  /** Completes (on the serial executor) once nothing is waiting, in flight or held for the peer. Serial. */
  private CompletableFuture<Void> answered() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    if (state == State.CLOSED) {
      done.completeExceptionally(new IllegalStateException("the connection with peer '" + peerName + "' is closed"));
      return done;
    }
    planner.awaitCaughtUp(done);
    planner.checkCaughtUp(stream.nothingUrgent());
    return done;
  }

  /** What the peer answered as parked (kept per peer name across its streams). Any thread. */
  ParkedAtPeer parkedAtPeer() {
    String peer = peerName;
    return peer == null ? new ParkedAtPeer() : host.parkedAt(peer);
  }

  /**
   * Sends the peer everything again (this node's objects and those it relays), each owner as a
   * full synchronization with a sweep: what the peer holds of those owners and is not sent is
   * removed there. Used when policy decisions changed, so withdrawn objects disappear and
   * granted ones arrive.
   */
  public void pushFullSync() {
    pushFullSync(null, false);
  }

  /**
   * As {@link #pushFullSync()}, for one owner's objects only (null: every owner); with
   * {@code verify}, the peer compares each object with the row it holds and repairs what differs.
   */
  public void pushFullSync(String onlyOwner, boolean verify) {
    serial.execute(() -> {
      if (state == State.STREAMING) {
        planner.pushFullSync(onlyOwner, verify);
        stream.drain();
      }
    });
  }

  /**
   * Asks the peer to send all its objects again, treated here as the mode says (see
   * {@link ResyncMode}). Completes with what it did once the full synchronization has been
   * applied here.
   */
  public CompletableFuture<ResyncReport> requestResync(ResyncMode mode) {
    CompletableFuture<ResyncReport> result = new CompletableFuture<>();
    serial.execute(() -> {
      if (state != State.STREAMING) {
        result.completeExceptionally(new IllegalStateException("the connection with peer '" + peerName + "' is not open"));
        return;
      }
      long id = planner.awaitResync(mode, result);
      // verify implies clear: a peer that does not know verify still sweeps
      stream.urgent(Envelope.newBuilder().setResyncRequest(ResyncRequest.newBuilder()
          .setRequestId(id).setClear(mode != ResyncMode.RESEND).setVerify(mode == ResyncMode.VERIFY)).build());
    });
    return result;
  }

  /**
   * A newer stream with the same peer replaced this one ({@link PeerRegistry} arbitration): ends
   * it with ABORTED saying so, in the log and to the peer.
   */
  void replaced(String description) {
    serial.execute(() -> {
      if (state != State.CLOSED) {
        stream.error(Status.ABORTED.withDescription(description));
        closed(description);
      }
    });
  }

  /** Ends the stream politely (node shutdown); completes when done. */
  public CompletableFuture<Void> close() {
    serial.execute(() -> {
      if (state != State.CLOSED) {
        stream.complete();
        closed("node is shutting down");
      }
    });
    return closedFuture;
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
      stream.pause();
      done.complete(null);
    });
    return done;
  }

  /** Resumes a paused flow: what waited is sent, and reading goes on. */
  public CompletableFuture<Void> resume() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    serial.execute(() -> {
      if (stream.paused()) {
        stream.resume();
        applySerial.execute(inbound::releaseHeld);
      }
      done.complete(null);
    });
    return done;
  }

  public boolean paused() {
    return stream.paused();
  }

  /**
   * Starts the connection paused (an operator paused the peer before this stream). Called by
   * the host from {@link PeerHost#register} (on the serial executor), before anything flows.
   */
  public void pauseFromStart() {
    stream.pause();
  }

  @Override
  public void peerCertificate(X509Certificate presented) {
    if (presented != null) {
      certificate = Handshake.Certificate.of(presented);
    }
  }

  /** The SHA-256 fingerprint of the peer's verified certificate, or null without TLS. */
  public String fingerprint() {
    Handshake.Certificate presented = certificate;
    return presented == null ? null : presented.fingerprint();
  }

  /** Who the peer is: set when its Hello is accepted, null before (and if it was refused). */
  public PeerIdentity identity() {
    return identity;
  }

  @Override
  public String peerName() {
    return peerName;
  }

  public boolean dialer() {
    return dialer;
  }

  /** Whether this is a browser's stream (over {@code entanglement.web.listen}), not a node's. */
  public boolean browser() {
    return browser != null;
  }

  /**
   * Whether a message to this peer may name {@code owner}: this node, the peer itself, the owners
   * it was sent objects of, those its Hello named and, for a node, those it acknowledged before
   * (see {@link PeerView}); nothing before its Hello is accepted. Any thread.
   */
  public boolean mayName(String owner) {
    PeerView shown = view;
    return shown != null && shown.mayName(owner);
  }

  /**
   * The name to give this peer for {@code name} where it may not learn it ({@link #mayName} is
   * false): a stand-in, the same on this stream for the same name. Any thread.
   */
  public String pseudonym(String name) {
    PeerView shown = view;
    return shown == null ? name : shown.pseudonym(name);
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

  /** What this stream carried so far, for status, admin and metrics. */
  public PeerStats stats() {
    return stats;
  }
}
