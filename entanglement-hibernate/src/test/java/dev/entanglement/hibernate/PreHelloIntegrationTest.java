package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.Transport;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Heartbeat;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.OwnerRemoved;
import dev.entanglement.proto.v1.ReplicationGrpc;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.ResyncRequest;
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A raw client over real TCP (Netty on loopback) that skips the Hello gets nothing done: every
 * message before the Hello ends the stream with a status naming it, and nothing is applied.
 * Before this was enforced, a lone FULL_SYNC_END marker claiming the node's own name made the
 * node delete all its own objects.
 */
class PreHelloIntegrationTest {
  private TestNode node;
  private ManagedChannel channel;

  @BeforeEach
  void start() {
    node = Transport.NETTY.listen(TestNode.builder("a", Database.H2, Item.class)).start();
    node.inTransaction(em -> {
      for (int i = 0; i < 5; i++) {
        em.persist(new Item("OWN-" + i, "own " + i, i));
      }
    });
    channel = NettyChannelBuilder.forTarget(node.entanglement().listenAddress().orElseThrow())
        .usePlaintext().build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    node.close();
  }

  /** A raw stream: sends what it is given, records what comes back, grants everything. */
  private final class RawStream {
    final ConcurrentLinkedQueue<Envelope> received = new ConcurrentLinkedQueue<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();
    volatile ClientCallStreamObserver<Envelope> out;

    RawStream() {
      ReplicationGrpc.newStub(channel).exchange(new ClientResponseObserver<Envelope, Envelope>() {
        @Override
        public void beforeStart(ClientCallStreamObserver<Envelope> requestStream) {
          out = requestStream;
        }

        @Override
        public void onNext(Envelope value) {
          received.add(value);
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

    synchronized void send(Envelope envelope) {
      out.onNext(envelope);
    }

    Status awaitEnd() throws Exception {
      return ended.get(10, TimeUnit.SECONDS);
    }
  }

  private List<String> ownCodes() {
    return node.all(Item.class).stream().map(Item::getCode).sorted().toList();
  }

  @Test
  void fullSyncEndBeforeHello_refusedAndNothingDeleted() throws Exception {
    List<String> before = ownCodes();
    assertThat(before).hasSize(5);

    RawStream raw = new RawStream();
    raw.send(Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder()
        .setKind(SyncMarker.Kind.FULL_SYNC_END).setOwner("a").setSerial(Long.MAX_VALUE / 2).setSweep(true))
        .build());

    Status status = raw.awaitEnd();
    assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status.getDescription()).isEqualTo("the first message must be a Hello, got a SyncMarker");
    assertThat(raw.received).isEmpty();
    assertThat(ownCodes()).isEqualTo(before);
    assertThat(node.entanglement().connectedPeers()).isEmpty();
  }

  @Test
  void resyncRequestBeforeHello_refusedAndNothingResent() throws Exception {
    RawStream raw = new RawStream();
    raw.send(Envelope.newBuilder().setResyncRequest(ResyncRequest.newBuilder().setRequestId(7).setClear(true))
        .build());
    // a Hello right behind it must not turn the early request into a full resynchronization
    raw.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName("raw")).build());

    Status status = raw.awaitEnd();
    assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status.getDescription()).isEqualTo("the first message must be a Hello, got a ResyncRequest");
    assertThat(raw.received).noneMatch(e -> e.hasSyncMarker() || e.hasChanges());
    assertThat(ownCodes()).hasSize(5);
  }

  static Stream<Arguments> otherFirstMessages() {
    return Stream.of(
        Arguments.of("Ack", Envelope.newBuilder().setAck(Ack.newBuilder().setRequestId(1)).build()),
        Arguments.of("Heartbeat", Envelope.newBuilder().setHeartbeat(Heartbeat.getDefaultInstance()).build()),
        Arguments.of("UpdateRequest", Envelope.newBuilder().setUpdateRequest(UpdateRequest.newBuilder()
            .setRequestId(1).setOrigin("raw").setOwner("a").setEntity("Item")).build()),
        Arguments.of("RequestOutcome", Envelope.newBuilder().setRequestOutcome(RequestOutcome.newBuilder()
            .setRequestId(1)).build()),
        Arguments.of("OwnerRemoved", Envelope.newBuilder().setOwnerRemoved(OwnerRemoved.newBuilder()
            .setOwner("a").setRemovedBy("raw")).build()),
        Arguments.of("TransitionUpdate", Envelope.newBuilder().setTransition(TransitionUpdate.newBuilder()
            .setOrigin("raw").setTransitionId(1).setOwner("a").setEntity("Item")).build()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("otherFirstMessages")
  void anyOtherMessageBeforeHello_refusedNamingIt(String kind, Envelope first) throws Exception {
    RawStream raw = new RawStream();
    raw.send(first);

    Status status = raw.awaitEnd();
    assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status.getDescription()).isEqualTo("the first message must be a Hello, got a " + kind);
    assertThat(raw.received).isEmpty();
    assertThat(ownCodes()).hasSize(5);
  }
}
