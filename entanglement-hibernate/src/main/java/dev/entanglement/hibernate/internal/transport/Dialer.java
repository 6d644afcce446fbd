package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.PeerHost;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.ReplicationGrpc;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Keeps one outgoing stream to a peer address open: dials, and when the stream ends (or cannot
 * be opened) dials again after an exponential backoff with full jitter.
 *
 * <h2>Concurrency</h2>
 * All fields but the final ones are guarded by {@code this}. Dial attempts run on the node's
 * scheduler; the stream itself is owned by its {@link PeerConnection}.
 */
public final class Dialer {
  private static final Logger LOG = Logger.getLogger(Dialer.class);

  private final PeerHost host;
  private final String target;
  private final Channel channel;
  private final ManagedChannel ownedChannel;
  private final ScheduledExecutorService scheduler;
  private final Duration initialDelay;
  private final Duration maxDelay;
  private final Consumer<PeerConnection> opened;

  private PeerConnection current;
  private ScheduledFuture<?> pending;
  private int failures;
  private boolean stopped;

  /**
   * @param ownedChannel the channel to shut down with the dialer, or null if the caller owns it
   * @param opened told of every connection the dialer opens
   */
  public Dialer(PeerHost host, String target, Channel channel, ManagedChannel ownedChannel,
      ScheduledExecutorService scheduler, Duration initialDelay, Duration maxDelay,
      Consumer<PeerConnection> opened) {
    this.host = host;
    this.target = target;
    this.channel = channel;
    this.ownedChannel = ownedChannel;
    this.scheduler = scheduler;
    this.initialDelay = initialDelay;
    this.maxDelay = maxDelay;
    this.opened = opened;
  }

  public String target() {
    return target;
  }

  /** The connection of the current attempt, or null between attempts. */
  public synchronized PeerConnection current() {
    return current;
  }

  public synchronized void start() {
    dial();
  }

  private synchronized void dial() {
    if (stopped) {
      return;
    }
    pending = null;
    PeerConnection connection = new PeerConnection(host, true, target);
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
        ended(connection, "closed by peer");
      }
    });
    opened.accept(connection);
    connection.sendHello();
  }

  /** A failure in words; TLS handshake failures say so and give the innermost reason. */
  static String describe(Throwable failure) {
    Throwable tls = null;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof javax.net.ssl.SSLException || t instanceof java.security.cert.CertificateException) {
        tls = t;
      }
    }
    if (tls == null) {
      io.grpc.Status refusal = io.grpc.Status.fromThrowable(failure);
      if (refusal.getCode() == io.grpc.Status.Code.PERMISSION_DENIED) {
        return "TLS identity refused by the peer: " + refusal.getDescription();
      }
      String status = refusal.toString();
      if (status.contains("NotSslRecordException") || status.contains("first record does not look like a TLS")) {
        return "TLS handshake failed: the peer does not speak TLS (a plaintext node?)";
      }
      return failure.toString();
    }
    Throwable root = tls;
    while (root.getCause() != null) {
      root = root.getCause();
    }
    return "TLS handshake failed: " + root.getMessage();
  }

  private synchronized void ended(PeerConnection connection, String why) {
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
    if (why.startsWith("TLS") && QuietLog.first(host.nodeName() + target + why)) {
      LOG.warnf("Node '%s' could not open its stream to %s: %s; dialing again with backoff (first in %d ms, "
          + "at most every %d ms)", host.nodeName(), target, why, delay, maxDelay.toMillis());
    } else if (failures == 1 && !why.startsWith("TLS")) {
      LOG.infof("Node '%s' lost or could not open its stream to %s (%s); dialing again with "
          + "backoff (first in %d ms, at most every %d ms)", host.nodeName(), target, why, delay, maxDelay.toMillis());
    } else {
      LOG.debugf("Node '%s' dials %s again in %d ms (attempt %d: %s)", host.nodeName(), target, delay, failures, why);
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
