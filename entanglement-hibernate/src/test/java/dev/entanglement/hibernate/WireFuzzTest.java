package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import com.google.protobuf.Message;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.Transport;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.ReplicationGrpc;
import dev.entanglement.proto.v1.Value;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Thousands of mutated and random messages over Netty, seeded: the node stays up, keeps its own
 * objects, stores only well-formed owners, logs a bounded number of warnings, and a legitimate
 * peer still replicates afterwards. {@code -Dentanglement.fuzz.seed=N} reruns a seed and
 * {@code -Dentanglement.fuzz.streams=N} makes a longer run (100 messages a stream).
 */
class WireFuzzTest {
  private static final int MESSAGES_PER_STREAM = 100;
  /**
   * The warnings a fuzzing stream may cause (each fuzzing stream is a peer of its own, and each
   * kind of problem is logged once per peer a minute): the log stays proportional to the number
   * of peers, not to the number of messages.
   */
  private static final int MAX_WARNINGS_PER_STREAM = 15;
  private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final List<String> STRINGS = List.of("", "a", "b", "Item", "fuzz", "x".repeat(300),
      "evil\nname", "ünïcødé", "Item#1", " ", "a b", "0", "-1");

  @Test
  void mutatedMessages_leaveTheNodeUpAndItsPeersReplicating() throws Exception {
    long seed = Long.getLong("entanglement.fuzz.seed", new Random().nextLong());
    int streams = Integer.getInteger("entanglement.fuzz.streams", 20);
    System.out.printf("WireFuzzTest: seed %d, %d streams of %d messages (rerun with -Dentanglement.fuzz.seed=%d)%n",
        seed, streams, MESSAGES_PER_STREAM, seed);
    Random random = new Random(seed);
    List<Throwable> uncaught = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((thread, e) -> uncaught.add(e));
    try (TestNode node = Transport.NETTY.listen(TestNode.builder("a", Database.H2, Item.class)).start();
        LogCapture logs = LogCapture.start()) {
      node.inTransaction(em -> {
        for (int i = 0; i < 5; i++) {
          em.persist(new Item("OWN-" + i, "own " + i, i));
        }
      });
      ManagedChannel channel = NettyChannelBuilder.forTarget(node.entanglement().listenAddress().orElseThrow())
          .usePlaintext().maxInboundMessageSize(64 * 1024 * 1024).build();
      try {
        for (int s = 0; s < streams; s++) {
          fuzzStream(channel, random, s);
        }
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }

      assertThat(node.all(Item.class).stream().filter(i -> i.getCode().startsWith("OWN-")).count())
          .as("seed %d: the node's own objects", seed).isEqualTo(5);
      for (String owner : node.table("entanglement_object").stream().map(row -> row.split("\\|")[2]).toList()) {
        assertThat(owner).as("seed %d: stored owner", seed).matches(NODE_NAME);
      }
      assertThat(uncaught).as("seed %d: exceptions no plugin thread caught", seed).isEmpty();
      assertThat(logs.warnings()).as("seed %d: warnings logged", seed).hasSizeLessThan(MAX_WARNINGS_PER_STREAM * streams);

      // a legitimate peer still replicates both ways
      // (its name is none the fuzz used: a fuzzing peer may remove an owner, as operators do)
      try (TestNode peer = Transport.NETTY.dial(TestNode.builder("legit", Database.H2, Item.class),
          node.entanglement().listenAddress().orElseThrow()).start()) {
        peer.awaitConnected("a");
        Item fromA = new Item("AFTER-A", "after the fuzz", 1);
        node.inTransaction(em -> em.persist(fromA));
        Item fromB = new Item("AFTER-B", "after the fuzz", 2);
        peer.inTransaction(em -> em.persist(fromB));
        await().atMost(Duration.ofSeconds(20)).until(() ->
            peer.find(Item.class, fromA.getId()) != null && node.find(Item.class, fromB.getId()) != null);
      }
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(previous);
    }
  }

  /** One stream: mostly a Hello first, then mutated and random envelopes; then it is closed. */
  private static void fuzzStream(ManagedChannel channel, Random random, int index) throws Exception {
    CompletableFuture<Void> ended = new CompletableFuture<>();
    ClientCallStreamObserver<Envelope>[] out = new ClientCallStreamObserver[1];
    ReplicationGrpc.newStub(channel).exchange(new ClientResponseObserver<Envelope, Envelope>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<Envelope> requestStream) {
        out[0] = requestStream;
      }

      @Override
      public void onNext(Envelope value) {}

      @Override
      public void onError(Throwable t) {
        ended.complete(null);
      }

      @Override
      public void onCompleted() {
        ended.complete(null);
      }
    });
    if (random.nextInt(10) < 8) {
      out[0].onNext(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1)
          .setNodeName("fuzz-" + index)).build());
    }
    for (int m = 0; m < MESSAGES_PER_STREAM && !ended.isDone(); m++) {
      out[0].onNext(random.nextBoolean() ? mutatedChange(random) : randomEnvelope(random));
    }
    if (!ended.isDone()) {
      out[0].onCompleted();
    }
    try {
      ended.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      out[0].cancel("fuzz stream done", null);
    }
  }

  /** A well-formed Item change with one thing made wrong (or not). */
  private static Envelope mutatedChange(Random random) {
    Change.Builder change = Change.newBuilder().setEntity("Item")
        .setId(Value.newBuilder().setUuid(UUID.randomUUID().toString())).setOwner("fuzz-" + random.nextInt(3))
        .setSerial(1 + random.nextInt(1000)).setOperation(Operation.UPSERT)
        .addAttributes(attribute("code", Value.newBuilder().setText("F-" + UUID.randomUUID())))
        .addAttributes(attribute("name", Value.newBuilder().setText("fuzzed")))
        .addAttributes(attribute("quantity", Value.newBuilder().setInteger(1)))
        .addAttributes(attribute("version", Value.newBuilder().setInteger(0)));
    switch (random.nextInt(9)) {
      case 0 -> change.setOwner(pick(random));
      case 1 -> change.setEntity(pick(random));
      case 2 -> change.setSerial(random.nextLong());
      case 3 -> change.setId((Value) randomMessage(Value.newBuilder(), random, 0).build());
      case 4 -> change.addAttributes((Attribute) randomMessage(Attribute.newBuilder(), random, 0).build());
      case 5 -> change.setOperationValue(random.nextInt(5));
      case 6 -> change.setHandoverTo(pick(random));
      case 7 -> change.setEpoch(random.nextLong());
      default -> { } // a valid change
    }
    return Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(random.nextInt(1000))
        .addChanges(change)).build();
  }

  private static Attribute.Builder attribute(String name, Value.Builder value) {
    return Attribute.newBuilder().setName(name).setValue(value);
  }

  /** An envelope of a random kind with random fields. */
  private static Envelope randomEnvelope(Random random) {
    Envelope.Builder envelope = Envelope.newBuilder();
    OneofDescriptor body = Envelope.getDescriptor().getOneofs().get(0);
    FieldDescriptor field = body.getFields().get(random.nextInt(body.getFieldCount()));
    envelope.setField(field, randomMessage(envelope.newBuilderForField(field), random, 0).build());
    return envelope.build();
  }

  private static Message.Builder randomMessage(Message.Builder builder, Random random, int depth) {
    for (FieldDescriptor field : builder.getDescriptorForType().getFields()) {
      OneofDescriptor oneof = field.getContainingOneof();
      if (random.nextInt(3) == 0 || oneof != null && builder.hasOneof(oneof)) {
        continue;
      }
      if (field.isRepeated()) {
        for (int i = random.nextInt(depth > 1 ? 2 : 4); i > 0; i--) {
          builder.addRepeatedField(field, randomValue(builder, field, random, depth));
        }
      } else {
        builder.setField(field, randomValue(builder, field, random, depth));
      }
    }
    return builder;
  }

  private static Object randomValue(Message.Builder builder, FieldDescriptor field, Random random, int depth) {
    return switch (field.getJavaType()) {
      case INT -> random.nextBoolean() ? random.nextInt(10) : random.nextInt();
      case LONG -> switch (random.nextInt(4)) {
        case 0 -> Long.MAX_VALUE;
        case 1 -> -1L;
        case 2 -> (long) random.nextInt(100);
        default -> random.nextLong();
      };
      case FLOAT -> random.nextFloat();
      case DOUBLE -> random.nextDouble();
      case BOOLEAN -> random.nextBoolean();
      case STRING -> pick(random);
      case BYTE_STRING -> ByteString.copyFrom(new byte[random.nextInt(64)]);
      case ENUM -> {
        List<EnumValueDescriptor> values = field.getEnumType().getValues();
        yield values.get(random.nextInt(values.size()));
      }
      case MESSAGE -> depth < 4 ? randomMessage(builder.newBuilderForField(field), random, depth + 1).build()
          : builder.newBuilderForField(field).build();
    };
  }

  private static String pick(Random random) {
    return STRINGS.get(random.nextInt(STRINGS.size()));
  }
}
