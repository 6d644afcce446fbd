package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.ReplicationGrpc;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.netty.handler.ssl.NotSslRecordException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import org.jboss.logging.Logger;

/**
 * Keeps one outgoing stream to a peer address open: dials, and when the stream ends (or cannot
 * be opened) dials again after an exponential backoff with full jitter.
 *
 * <h2>Concurrency</h2>
 * All fields but the final ones are guarded by {@code this}. Dial attempts run on the node's
 * scheduler; the stream itself is owned by its {@link StreamHandler}.
 */
public final class Dialer {
  private static final Logger LOG = Logger.getLogger(Dialer.class);

  private final String nodeName;
  /** Makes the handler of the next attempt. */
  private final Supplier<StreamHandler> open;
  /** Tells the node of a handler whose call has started. */
  private final Consumer<StreamHandler> opened;
  private final String target;
  private final Channel channel;
  private final ManagedChannel ownedChannel;
  private final ScheduledExecutorService scheduler;
  private final Duration initialDelay;
  private final Duration maxDelay;

  private StreamHandler current;
  private ScheduledFuture<?> pending;
  private int failures;
  private boolean stopped;
  private boolean everConnected;
  private String lastError; // why the last attempt ended, null before any
  private java.time.Instant lastErrorAt;
  private java.time.Instant nextAttemptAt;

  /** A dialer between attempts, for operators: where, how often it failed in a row, why, and when it tries again. */
  public record Waiting(String target, int failures, String lastError, java.time.Instant lastErrorAt,
      java.time.Instant nextAttemptAt) {}

  /**
   * @param ownedChannel the channel to shut down with the dialer, or null if the caller owns it
   * @param opened told of every connection the dialer opens
   */
  public <H extends StreamHandler> Dialer(StreamHandler.Factory<H> handlers, String target, Channel channel,
      ManagedChannel ownedChannel, ScheduledExecutorService scheduler, Duration initialDelay, Duration maxDelay,
      Consumer<? super H> opened) {
    this.nodeName = handlers.nodeName();
    this.open = () -> handlers.newStream(true, target);
    // the handlers given to it are the factory's own, made by open: of type H
    @SuppressWarnings("unchecked")
    Consumer<StreamHandler> announce = handler -> opened.accept((H) handler);
    this.opened = announce;
    this.target = target;
    this.channel = channel;
    this.ownedChannel = ownedChannel;
    this.scheduler = scheduler;
    this.initialDelay = initialDelay;
    this.maxDelay = maxDelay;
  }

  public String target() {
    return target;
  }

  /**
   * The handler of the current attempt, or null between attempts. Its type is the one the
   * factory given to the constructor makes (the dialer holds no other), which is what the caller
   * names; the cast is unchecked for that reason only.
   */
  @SuppressWarnings("unchecked")
  public synchronized <H extends StreamHandler> H current() {
    return (H) current;
  }

  public synchronized void start() {
    dial();
  }

  /** This dialer while it waits to dial again (no stream open), else null. */
  public synchronized Waiting waiting() {
    return current != null || stopped || lastError == null ? null
        : new Waiting(target, failures, lastError, lastErrorAt, nextAttemptAt);
  }

  private synchronized void dial() {
    if (stopped) {
      return;
    }
    pending = null;
    StreamHandler connection = open.get();
    current = connection;
    ReplicationGrpc.newStub(channel).withOption(TlsIdentity.CONNECTION, connection).exchange(new ClientResponseObserver<Envelope, Envelope>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<Envelope> requestStream) {
        requestStream.disableAutoRequestWithInitial(1);
        connection.attach(requestStream);
      }

      @Override
      public void onNext(Envelope envelope) {
        connection.onNext(envelope);
      }

      @Override
      public void onError(Throwable t) {
        connection.onError(t);
        ended(connection, describe(t));
      }

      @Override
      public void onCompleted() {
        connection.onCompleted();
        ended(connection, new Failure("closed by peer", false));
      }
    });
    opened.accept(connection);
    connection.sendHello();
  }

  /**
   * Why a stream failed, in words, and whether it was a refusal: a TLS handshake that failed
   * (either side distrusting the other's certificate, or one side not speaking TLS) or the peer
   * refusing this node's identity. Refusals are logged at WARN; other failures are the usual
   * comings and goings of peers.
   */
  record Failure(String reason, boolean refusal) {}

  private static final String GOAWAY_DEBUG = "debug data: ";

  static Failure describe(Throwable failure) {
    Throwable root = failure;
    CertificateException ours = null;
    boolean tls = false;
    boolean notTls = false;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof CertificateException c && ours == null && String.valueOf(c.getMessage()).startsWith(PeerTrust.REFUSAL)) {
        ours = c;
      }
      tls |= t instanceof SSLException || t instanceof CertificateException;
      notTls |= t instanceof NotSslRecordException;
      root = t;
    }
    if (ours != null) {
      return new Failure("TLS handshake failed: " + ours.getMessage(), true);
    }
    if (notTls) {
      return new Failure("TLS handshake failed: the peer answered in plaintext; it does not speak TLS "
          + "(does it have entanglement.transport.plaintext=true?)", true);
    }
    if (tls) {
      String message = String.valueOf(root.getMessage());
      if (PeerTrust.distrustAlert(message)) {
        return new Failure("TLS handshake failed: the peer does not trust this node's certificate (" + message
            + "); its log says why", true);
      }
      return new Failure("TLS handshake failed: " + message, true);
    }
    Status status = Status.fromThrowable(failure);
    String description = String.valueOf(status.getDescription());
    if (description.contains("INADEQUATE_SECURITY")) { // the GOAWAY of ConnectionWatch
      int debug = description.indexOf(GOAWAY_DEBUG);
      return new Failure("the peer requires mutual TLS, and this node dials in plaintext"
          + (debug < 0 ? "" : " (" + description.substring(debug + GOAWAY_DEBUG.length()).strip() + ")"), true);
    }
    if (status.getCode() == Status.Code.PERMISSION_DENIED) {
      return new Failure("refused by the peer: " + description, true);
    }
    // gRPC says "UNAVAILABLE: io exception"; the cause says what happened (connection refused, no route, reset)
    String cause = root == failure || root.getMessage() == null ? "" : " (" + root.getMessage() + ")";
    return new Failure(status.getCode() + ": " + description + cause, false);
  }

  private synchronized void ended(StreamHandler connection, Failure failure) {
    if (connection != current || stopped) {
      return;
    }
    current = null;
    boolean wasConnected = connection.peerName() != null;
    if (wasConnected) {
      failures = 0; // it worked: start the backoff again from the bottom
    }
    // exponential backoff with full jitter: a crowd of nodes does not redial in lockstep
    long ceiling = Math.min(maxDelay.toMillis(), initialDelay.toMillis() << Math.min(failures, 20));
    long delay = ThreadLocalRandom.current().nextLong(initialDelay.toMillis(), Math.max(ceiling, initialDelay.toMillis()) + 1);
    failures++;
    String why = failure.reason();
    lastError = why;
    lastErrorAt = java.time.Instant.now();
    nextAttemptAt = lastErrorAt.plusMillis(delay);
    if (wasConnected) {
      everConnected = true;
    }
    if (!everConnected && failures == 1 && !failure.refusal()) {
      // a peer never reached is more often a wrong address than a peer away: say so where operators look
      LOG.warnf("Node '%s' could not reach %s (%s); dialing again with backoff (first in %d ms, at most every %d ms)",
          nodeName, target, why, delay, maxDelay.toMillis());
    } else if (failure.refusal() && QuietLog.first(nodeName + " dialing " + target + ": " + why)) {
      LOG.warnf("Node '%s' could not open its stream to %s: %s; dialing again with backoff (first in %d ms, "
          + "at most every %d ms; repeats of this refusal are logged at DEBUG for a minute)", nodeName, target,
          why, delay, maxDelay.toMillis());
    } else if (failures == 1 && !failure.refusal()) {
      LOG.infof("Node '%s' lost or could not open its stream to %s (%s); dialing again with "
          + "backoff (first in %d ms, at most every %d ms)", nodeName, target, why, delay, maxDelay.toMillis());
    } else {
      LOG.debugf("Node '%s' dials %s again in %d ms (attempt %d: %s)", nodeName, target, delay, failures, why);
    }
    pending = scheduler.schedule(this::dial, delay, TimeUnit.MILLISECONDS);
  }

  /** Stops dialing and shuts down the channel if the dialer created it. */
  public void stop() {
    synchronized (this) {
      stopped = true;
      if (pending != null) {
        pending.cancel(false);
      }
    }
    if (ownedChannel != null) {
      ownedChannel.shutdown();
    }
  }

  /** Waits for the owned channel to terminate. */
  public void awaitTermination(Duration timeout) throws InterruptedException {
    if (ownedChannel != null && !ownedChannel.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      ownedChannel.shutdownNow();
    }
  }
}
