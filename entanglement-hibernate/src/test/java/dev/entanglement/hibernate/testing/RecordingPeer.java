package dev.entanglement.hibernate.testing;

import static org.awaitility.Awaitility.await;

import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.ReplicationGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A hand-driven peer speaking the raw wire protocol over a real in-process gRPC stream (not a
 * mock): it dials a node, sends whatever envelopes a test builds, records what it receives, and
 * grants the node's sends one message at a time only when told to ({@link #request}), so tests
 * can hold the node's stream not ready. The node's route announcements (sent right after the
 * Hellos) are recorded but granted on their own, so a test's credit is left for what it awaits.
 */
public final class RecordingPeer implements AutoCloseable {
  private final ManagedChannel channel;
  private final ConcurrentLinkedQueue<Envelope> received = new ConcurrentLinkedQueue<>();
  private final CompletableFuture<Status> ended = new CompletableFuture<>();
  private final AtomicLong nextRequestId = new AtomicLong();
  private volatile ClientCallStreamObserver<Envelope> out;

  private RecordingPeer(String inProcessName) {
    this(InProcessChannelBuilder.forName(inProcessName).directExecutor().build());
  }

  private RecordingPeer(ManagedChannel channel) {
    this.channel = channel;
    ReplicationGrpc.newStub(channel).exchange(new ClientResponseObserver<Envelope, Envelope>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<Envelope> requestStream) {
        requestStream.disableAutoRequestWithInitial(0);
        out = requestStream;
      }

      @Override
      public void onNext(Envelope value) {
        received.add(value);
        if (value.hasRoutes()) {
          request(1); // the owner directory's announcements do not use up the credit a test grants
        }
      }

      @Override
      public void onError(Throwable t) {
        ended.complete(Status.fromThrowable(t));
      }

      @Override
      public void onCompleted() {
        ended.complete(Status.OK);
      }
    });
  }

  /** Opens a stream to a node listening on {@code inprocess:NAME}, without a Hello yet. */
  public static RecordingPeer dial(String inProcessName) {
    return new RecordingPeer(inProcessName);
  }

  /**
   * Opens a stream over mutual TLS to a node listening on {@code hostPort}, presenting the
   * certificate and key in {@code nodeDir} (as {@link dev.entanglement.hibernate.tls.DevCertificates}
   * writes them) and trusting the CA certificate {@code caCertificate}; without a Hello yet.
   */
  public static RecordingPeer dialTls(String hostPort, java.nio.file.Path nodeDir, java.nio.file.Path caCertificate)
      throws javax.net.ssl.SSLException {
    int colon = hostPort.lastIndexOf(':');
    var ssl = io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts.forClient()
        .keyManager(nodeDir.resolve(dev.entanglement.hibernate.tls.DevCertificates.CERTIFICATE).toFile(),
            nodeDir.resolve(dev.entanglement.hibernate.tls.DevCertificates.PRIVATE_KEY).toFile())
        .trustManager(caCertificate.toFile()).build();
    return new RecordingPeer(io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder
        .forAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)))
        .sslContext(ssl).overrideAuthority("localhost").build());
  }

  /** Opens a stream, introduces itself as {@code name} and waits for the node's Hello. */
  public static RecordingPeer handshake(String inProcessName, String name) {
    RecordingPeer peer = dial(inProcessName);
    peer.request(1);
    peer.send(Envelope.newBuilder().setHello(Hello.newBuilder()
        .setProtocolVersion(1).setNodeName(name)).build());
    await().alias("node's Hello").atMost(Duration.ofSeconds(10)).until(() -> !peer.hellos().isEmpty());
    return peer;
  }

  public synchronized void send(Envelope envelope) {
    out.onNext(envelope);
  }

  /** Sends the changes as one batch and returns its request id. */
  public long sendChanges(Change... changes) {
    long id = nextRequestId.incrementAndGet();
    send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder()
        .setRequestId(id).addAllChanges(List.of(changes))).build());
    return id;
  }

  /** Lets the node send {@code count} more messages. */
  public synchronized void request(int count) {
    out.request(count);
  }

  /** Waits for the Ack of a request. */
  public Ack awaitAck(long requestId) {
    request(1);
    return await().alias("ack of request " + requestId).atMost(Duration.ofSeconds(10))
        .until(() -> acks().stream().filter(a -> a.getRequestId() == requestId).findFirst(),
            java.util.Optional::isPresent)
        .orElseThrow();
  }

  /** Everything received so far, in order. */
  public List<Envelope> received() {
    return List.copyOf(received);
  }

  public List<Hello> hellos() {
    return received.stream().filter(Envelope::hasHello).map(Envelope::getHello).toList();
  }

  public List<Ack> acks() {
    return received.stream().filter(Envelope::hasAck).map(Envelope::getAck).toList();
  }

  public List<ChangeBatch> batches() {
    return received.stream().filter(Envelope::hasChanges).map(Envelope::getChanges).toList();
  }

  public List<Change> changes() {
    List<Change> all = new ArrayList<>();
    batches().forEach(b -> all.addAll(b.getChangesList()));
    return all;
  }

  /** The status the node ended the stream with. */
  public Status awaitEnd() throws Exception {
    return ended.get(10, TimeUnit.SECONDS);
  }

  public boolean isOpen() {
    return !ended.isDone();
  }

  @Override
  public void close() {
    if (!ended.isDone()) {
      out.cancel("test done", null);
    }
    channel.shutdownNow();
  }
}
