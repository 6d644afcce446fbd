package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.Transport;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Models;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Composite;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Heartbeat;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.buffer.UnpooledByteBufAllocator;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The bounds of a node against peers that misbehave on the wire (issue 12, item 11): a stream
 * that stalls, oversized messages, values nested too deep, streams gRPC closes, replaced
 * streams, and messages gRPC cannot read. Raw clients speak the wire protocol over Netty (or
 * in-process where serialization does not matter).
 */
class WireBoundsIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private <T extends AutoCloseable> T keep(T closeable) {
    open.add(closeable);
    return closeable;
  }

  private TestNode nettyNode(String... settings) {
    TestNode.Builder builder = Transport.NETTY.listen(TestNode.builder("a", Database.H2, Models.ALL));
    for (int i = 0; i < settings.length; i += 2) {
      builder.set(settings[i], settings[i + 1]);
    }
    return keep(builder.start());
  }

  private static Envelope hello(String name) {
    return Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName(name)).build();
  }

  private static Attribute attribute(String name, Value value) {
    return Attribute.newBuilder().setName(name).setValue(value).build();
  }

  private static Value text(String s) {
    return Value.newBuilder().setText(s).build();
  }

  /** A well-formed new Item from owner "probe". */
  private static Change.Builder item(UUID id, String code, long serial) {
    return Change.newBuilder().setEntity("Item").setId(Value.newBuilder().setUuid(id.toString())).setOwner("probe")
        .setSerial(serial).setOperation(Operation.UPSERT)
        .addAttributes(attribute("code", text(code)))
        .addAttributes(attribute("name", text("thing " + code)))
        .addAttributes(attribute("quantity", Value.newBuilder().setInteger(1).build()))
        .addAttributes(attribute("version", Value.newBuilder().setInteger(0).build()));
  }

  /** An embeddable value holding itself {@code depth} times (the address's city, ever deeper). */
  private static Value nested(int depth) {
    Value value = text("Springfield");
    for (int i = 0; i < depth; i++) {
      value = Value.newBuilder().setComposite(Composite.newBuilder().addAttributes(attribute("city", value))).build();
    }
    return value;
  }

  private static Envelope batch(long requestId, Change... changes) {
    return Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(requestId)
        .addAllChanges(List.of(changes))).build();
  }

  // ---- 1. a stalled stream ---------------------------------------------------------------------

  @Test
  void peerThatSendsHeartbeatsButNeverReads_isClosedNamingTheSetting_andCatchesUpAfterReconnecting() throws Exception {
    String address = "stall-" + UUID.randomUUID();
    TestNode node = keep(TestNode.builder("a", Database.H2, Models.ALL).listenInProcess(address)
        .set("entanglement.peer.stall_timeout_ms", "500")
        .set(EntanglementSettings.HEARTBEAT_INTERVAL_MS, "100")
        .set(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, "60000")
        .start());
    RecordingPeer probe = keep(RecordingPeer.handshake(address, "probe")); // grants nothing after the Hello
    List<UUID> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Item item = new Item("STALL-" + i, "waits", i);
      node.inTransaction(em -> em.persist(item));
      ids.add(item.getId());
    }
    Envelope heartbeat = Envelope.newBuilder().setHeartbeat(Heartbeat.getDefaultInstance()).build();
    await().alias("the stalled stream ends").atMost(WAIT).pollInterval(Duration.ofMillis(100)).until(() -> {
      if (probe.isOpen()) {
        probe.send(heartbeat); // alive, never reading
      }
      return !probe.isOpen();
    });
    Status status = probe.awaitEnd();
    assertThat(status.getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(status.getDescription()).contains("entanglement.peer.stall_timeout_ms").contains("probe");

    RecordingPeer again = keep(RecordingPeer.handshake(address, "probe"));
    again.request(100);
    await().alias("the catch-up after reconnecting").atMost(WAIT).until(() ->
        again.changes().stream().map(c -> c.getId().getUuid()).toList()
            .containsAll(ids.stream().map(UUID::toString).toList()));
  }

  // ---- 2. oversized messages -------------------------------------------------------------------

  @Test
  void messagesOverTheLimit_areRefusedInBand_loggedOnce_andDirectMemoryStaysBounded() throws Exception {
    int limit = 1024 * 1024;
    TestNode node = nettyNode("entanglement.peer.max_message_bytes", String.valueOf(limit));
    RawClient client = keep(new RawClient(node));
    try (LogCapture logs = LogCapture.start(); GrpcLogs grpc = new GrpcLogs()) {
      // just over the limit: the peer is told why
      RawClient.Stream first = client.open();
      first.send(hello("big"));
      first.awaitHello();
      first.send(batch(1, item(UUID.randomUUID(), "BIG", 1).setAttributes(1, attribute("name",
          text("x".repeat(limit + 10)))).build()));
      Status status = first.awaitEnd();
      assertThat(status.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
      assertThat(status.getDescription()).contains(String.valueOf(limit)).contains("entanglement.peer.max_message_bytes");

      // four peers, each sending two 24 MB messages at once: bounded memory, one line per peer
      byte[] huge = batch(2, item(UUID.randomUUID(), "HUGE", 2).setAttributes(1, attribute("name",
          text("y".repeat(24 * 1024 * 1024)))).build()).toByteArray();
      long before = directMemory();
      AtomicLong peak = new AtomicLong(before);
      AtomicBoolean sampling = new AtomicBoolean(true);
      Thread sampler = new Thread(() -> {
        while (sampling.get()) {
          peak.accumulateAndGet(directMemory(), Math::max);
          LockSupport.parkNanos(1_000_000);
        }
      });
      sampler.start();
      List<RawClient.Stream> streams = new ArrayList<>();
      for (int s = 0; s < 4; s++) {
        RawClient.Stream stream = client.open();
        stream.send(hello("big-" + s));
        stream.awaitHello();
        streams.add(stream);
      }
      for (RawClient.Stream stream : streams) {
        stream.sendRaw(huge);
        stream.sendRaw(huge);
      }
      for (RawClient.Stream stream : streams) {
        stream.awaitEnd();
      }
      sampling.set(false);
      sampler.join();
      long grown = peak.get() - before;
      System.out.printf("direct memory: %d MB before, peak %d MB while 4 streams sent 2 x 24 MB%n",
          before >> 20, peak.get() >> 20);
      assertThat(grown).as("growth of direct memory while 192 MB were sent, in bytes").isLessThan(64L << 20);
      assertThat(logs.warnings("entanglement.peer.max_message_bytes")).hasSize(5);
      for (String peer : List.of("'big'", "'big-0'", "'big-1'", "'big-2'", "'big-3'")) {
        assertThat(logs.warnings("peer " + peer + " sent a message of more than 1048576 bytes")).hasSize(1);
      }
      assertThat(grpc.stackTraces()).isEmpty();
    }
    assertThat(node.all(Item.class)).isEmpty();
  }

  /** What the JVM's direct buffers hold (Netty's pools allocate their chunks as such buffers). */
  private static long directMemory() {
    return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
        .filter(pool -> pool.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
  }

  // ---- 3. values nested too deep ---------------------------------------------------------------

  @Test
  void valueNestedTooDeep_isRejectedInBand_andTheBatchAndStreamGoOn() throws Exception {
    TestNode node = nettyNode();
    RawClient.Stream stream = keep(new RawClient(node)).open();
    stream.send(hello("probe"));
    stream.awaitHello();
    UUID good = UUID.randomUUID();
    stream.send(batch(1, item(good, "OK", 1).build(),
        item(UUID.randomUUID(), "DEEP", 2).addAttributes(attribute("address", nested(30))).build()));
    Ack ack = stream.awaitAck(1);
    assertThat(ack.getOutcomesList()).extracting(Outcome::getStatus)
        .containsExactly(OutcomeStatus.APPLIED, OutcomeStatus.REJECTED);
    assertThat(ack.getOutcomes(1).getReason()).isEqualTo(RejectReason.MALFORMED);
    assertThat(ack.getOutcomes(1).getMessage()).isEqualTo("change of Item with a value nested more than 16 levels "
        + "deep (embeddables, references); expected at most 16");
    assertThat(node.find(Item.class, good)).isNotNull();
    assertThat(stream.isOpen()).isTrue();
    assertThat(node.entanglement().connectedPeers()).containsExactly("probe");
  }

  @Test
  void valueNestedBeyondWhatProtobufParses_endsTheStreamNamingTheProblem_withOneLogLine() throws Exception {
    TestNode node = nettyNode();
    RawClient client = keep(new RawClient(node));
    try (LogCapture logs = LogCapture.start(); GrpcLogs grpc = new GrpcLogs()) {
      for (int i = 0; i < 3; i++) {
        RawClient.Stream stream = client.open();
        stream.send(hello("probe"));
        stream.awaitHello();
        stream.send(batch(1, item(UUID.randomUUID(), "DEEP", 1).addAttributes(attribute("address", nested(40))).build()));
        Status status = stream.awaitEnd();
        assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(status.getDescription()).contains("not a valid Envelope").contains("too many levels of nesting");
      }
      assertThat(logs.warnings("too many levels of nesting")).hasSize(1);
      assertThat(grpc.stackTraces()).isEmpty();
    }
  }

  // ---- 4. streams gRPC closes ------------------------------------------------------------------

  @Test
  void streamsEndedByThePeerOrByGrpc_leaveTheConnectedListAtOnce() throws Exception {
    TestNode node = nettyNode(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, "60000");
    RawClient client = keep(new RawClient(node));

    RawClient.Stream cancelled = client.open();
    cancelled.send(hello("cancels"));
    cancelled.awaitHello();
    assertThat(node.entanglement().connectedPeers()).contains("cancels");
    cancelled.cancel();
    await().alias("a cancelled stream leaves the connected list").atMost(Duration.ofSeconds(3))
        .until(() -> !node.entanglement().connectedPeers().contains("cancels"));

    RawClient.Stream unreadable = client.open();
    unreadable.send(hello("garbled"));
    unreadable.awaitHello();
    assertThat(node.entanglement().connectedPeers()).contains("garbled");
    unreadable.sendRaw(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff});
    unreadable.awaitEnd();
    await().alias("a stream gRPC could not read leaves the connected list").atMost(Duration.ofSeconds(3))
        .until(() -> !node.entanglement().connectedPeers().contains("garbled"));
  }

  // ---- 5. a replaced stream --------------------------------------------------------------------

  @Test
  void replacedStream_isToldAndLoggedAsReplaced() throws Exception {
    String address = "replace-" + UUID.randomUUID();
    keep(TestNode.builder("a", Database.H2, Models.ALL).listenInProcess(address).start());
    try (LogCapture logs = LogCapture.start()) {
      RecordingPeer old = keep(RecordingPeer.handshake(address, "probe"));
      keep(RecordingPeer.handshake(address, "probe"));
      Status status = old.awaitEnd();
      assertThat(status.getCode()).isEqualTo(Status.Code.ABORTED);
      assertThat(status.getDescription()).isEqualTo("node 'a' replaced this stream with peer 'probe' by a newer one "
          + "(dialed by 'probe')");
      await().atMost(WAIT).until(() -> !logs.lines("disconnected from peer 'probe'").isEmpty());
      assertThat(logs.lines("disconnected from peer 'probe'")).singleElement().satisfies(line ->
          assertThat(line).contains("replaced this stream").doesNotContain("shutting down"));
    }
  }

  // ---- 6. messages gRPC cannot read ------------------------------------------------------------

  @Test
  void randomBytes_endEachStreamWithAClearStatus_andLogOneLine_withoutStackTraces() throws Exception {
    long seed = Long.getLong("entanglement.fuzz.seed", new Random().nextLong());
    System.out.printf("WireBoundsIntegrationTest: seed %d (rerun with -Dentanglement.fuzz.seed=%d)%n", seed, seed);
    Random random = new Random(seed);
    TestNode node = nettyNode();
    RawClient client = keep(new RawClient(node));
    try (LogCapture logs = LogCapture.start(); GrpcLogs grpc = new GrpcLogs()) {
      for (int i = 0; i < 5; i++) {
        RawClient.Stream stream = client.open();
        byte[] junk = new byte[64];
        random.nextBytes(junk);
        junk[0] = (byte) 0xff; // field 31, wire type 7: never a valid Envelope
        stream.sendRaw(junk);
        Status status = stream.awaitEnd();
        assertThat(status.getCode()).as("seed %d", seed).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(status.getDescription()).as("seed %d", seed).contains("not a valid Envelope");
      }
      assertThat(logs.warnings("not a valid Envelope")).as("seed %d", seed).hasSize(1);
      assertThat(grpc.stackTraces()).as("seed %d", seed).isEmpty();
    }
    assertThat(node.entanglement().connectedPeers()).isEmpty();
  }

  // ---- a raw client over Netty -----------------------------------------------------------------

  /** Records what gRPC itself logs (java.util.logging under io.grpc) while open. */
  private static final class GrpcLogs extends Handler implements AutoCloseable {
    private final Logger logger = Logger.getLogger("io.grpc");
    private final List<LogRecord> records = new java.util.concurrent.CopyOnWriteArrayList<>();

    GrpcLogs() {
      logger.addHandler(this);
    }

    List<String> stackTraces() {
      return records.stream().filter(r -> r.getThrown() != null)
          .map(r -> r.getLoggerName() + ": " + r.getMessage() + ": " + r.getThrown()).toList();
    }

    @Override
    public void publish(LogRecord record) {
      records.add(record);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {
      logger.removeHandler(this);
    }
  }

  /**
   * Streams of raw bytes to a node's Exchange method over Netty; its own buffers are on the heap,
   * so the JVM's direct memory is the node's.
   */
  private static final class RawClient implements AutoCloseable {
    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
      @Override
      public InputStream stream(byte[] value) {
        return new ByteArrayInputStream(value);
      }

      @Override
      public byte[] parse(InputStream stream) {
        try {
          return stream.readAllBytes();
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      }
    };
    private static final MethodDescriptor<byte[], byte[]> EXCHANGE = MethodDescriptor.<byte[], byte[]>newBuilder()
        .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
        .setFullMethodName("entanglement.v1.Replication/Exchange")
        .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();

    private final ManagedChannel channel;

    RawClient(TestNode node) {
      channel = NettyChannelBuilder.forTarget(node.entanglement().listenAddress().orElseThrow()).usePlaintext()
          .withOption(ChannelOption.ALLOCATOR, new UnpooledByteBufAllocator(false))
          .maxInboundMessageSize(64 << 20).build();
    }

    Stream open() {
      return new Stream(channel.newCall(EXCHANGE, CallOptions.DEFAULT));
    }

    @Override
    public void close() throws InterruptedException {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    static final class Stream {
      private final ClientCall<byte[], byte[]> call;
      private final ConcurrentLinkedQueue<Envelope> received = new ConcurrentLinkedQueue<>();
      private final CompletableFuture<Status> ended = new CompletableFuture<>();

      Stream(ClientCall<byte[], byte[]> call) {
        this.call = call;
        call.start(new ClientCall.Listener<>() {
          @Override
          public void onMessage(byte[] message) {
            try {
              received.add(Envelope.parseFrom(message));
            } catch (IOException e) {
              throw new IllegalStateException(e);
            }
            call.request(1);
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            ended.complete(status);
          }
        }, new Metadata());
        call.request(1);
      }

      synchronized void send(Envelope envelope) {
        call.sendMessage(envelope.toByteArray());
      }

      synchronized void sendRaw(byte[] bytes) {
        call.sendMessage(bytes);
      }

      void awaitHello() {
        await().alias("node's Hello").atMost(WAIT).until(() -> received.stream().anyMatch(Envelope::hasHello));
      }

      Ack awaitAck(long requestId) {
        return await().alias("ack of " + requestId).atMost(WAIT).until(() -> received.stream()
            .filter(e -> e.hasAck() && e.getAck().getRequestId() == requestId).findFirst(), java.util.Optional::isPresent)
            .orElseThrow().getAck();
      }

      Status awaitEnd() throws Exception {
        return ended.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      }

      boolean isOpen() {
        return !ended.isDone();
      }

      void cancel() {
        call.cancel("the test cancels", null);
      }
    }
  }
}
