package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.AddPeerRequest;
import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.proto.v1.AdminResyncRequest;
import dev.entanglement.proto.v1.DescribeObjectRequest;
import dev.entanglement.proto.v1.ListOwnersRequest;
import dev.entanglement.proto.v1.ListPeersRequest;
import dev.entanglement.proto.v1.ObjectDescription;
import dev.entanglement.proto.v1.PeerInfo;
import dev.entanglement.proto.v1.PeerRef;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.reflection.v1.ServiceResponse;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The admin API through a real gRPC client over Netty on loopback: every call, its access
 * control, health and reflection next to it, and the Micrometer meters moving with the flow.
 */
class AdminApiIntegrationTest {
  static final String TOKEN = "admin-token-0123456789abcdef";
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private TestNode a;
  private TestNode b;
  private ManagedChannel channel;
  private AdminGrpc.AdminBlockingStub admin;

  @BeforeEach
  void nodes() {
    String addressA = "adm-a-" + UUID.randomUUID();
    a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(addressA)
        .set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_TOKEN, TOKEN)
        .set(EntanglementSettings.METRICS_REGISTRY, meters).start());
    b = track(TestNode.builder("b", Database.H2, Item.class).peers("inprocess:" + addressA).start());
    a.awaitConnected("b");
    channel = NettyChannelBuilder.forTarget(a.entanglement().adminAddress().orElseThrow()).usePlaintext().build();
    closeables.add(() -> channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    admin = withToken(TOKEN);
  }

  private AdminGrpc.AdminBlockingStub withToken(String token) {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return AdminGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private <T extends AutoCloseable> T track(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  private PeerInfo peer(String name) {
    return admin.listPeers(ListPeersRequest.getDefaultInstance()).getPeersList().stream()
        .filter(p -> p.getName().equals(name)).findFirst().orElseThrow();
  }

  private List<Item> createAtA(int count, String prefix) {
    List<Item> items = new ArrayList<>();
    a.inTransaction(em -> {
      for (int i = 0; i < count; i++) {
        Item item = new Item(prefix + i, "item", i);
        em.persist(item);
        items.add(item);
      }
    });
    return items;
  }

  @Test
  void listPeers_describeObject_listOwners() {
    List<Item> items = createAtA(3, "L");
    a.awaitCaughtUp("b");
    PeerInfo info = peer("b");
    assertThat(info.getState()).isEqualTo("STREAMING");
    assertThat(info.getProtocolVersion()).isEqualTo(1);
    assertThat(info.getDialed()).isFalse();
    assertThat(info.getChangesSent()).isGreaterThanOrEqualTo(3);
    assertThat(info.getLagSerials()).isZero();
    assertThat(info.getLagObjects()).isZero();
    assertThat(info.getOutboxDepth()).isZero();
    assertThat(info.getPaused()).isFalse();
    assertThat(info.getSince()).isNotEmpty();

    ObjectDescription object = admin.describeObject(DescribeObjectRequest.newBuilder().setEntity("Item")
        .setId(items.get(0).getId().toString()).build());
    assertThat(object.getOwner()).isEqualTo("a");
    assertThat(object.getSerial()).isPositive();
    assertThat(object.getAcknowledgedByList()).containsExactly("b");
    assertThat(object.getDeleted()).isFalse();

    var owners = admin.listOwners(ListOwnersRequest.getDefaultInstance()).getOwnersList();
    assertThat(owners).anySatisfy(o -> {
      assertThat(o.getOwner()).isEqualTo("a");
      assertThat(o.getObjects()).isEqualTo(3);
    });
  }

  @Test
  void badArguments_getClearStatuses_neverAStackTrace() {
    assertStatus(() -> admin.describeObject(DescribeObjectRequest.newBuilder().setEntity("Nope").setId("1").build()),
        Status.Code.NOT_FOUND, "node 'a' has no @Entangled entity named 'Nope'; it has [Item]");
    assertStatus(() -> admin.describeObject(DescribeObjectRequest.newBuilder().setEntity("Item").setId("not-a-uuid").build()),
        Status.Code.INVALID_ARGUMENT, "'not-a-uuid' is not an id of Item; expected a UUID");
    UUID missing = UUID.randomUUID();
    assertStatus(() -> admin.describeObject(DescribeObjectRequest.newBuilder().setEntity("Item").setId(missing.toString()).build()),
        Status.Code.NOT_FOUND, "node 'a' holds no Item with id " + missing);
    assertStatus(() -> admin.describeObject(DescribeObjectRequest.newBuilder().setEntity("Item").build()),
        Status.Code.INVALID_ARGUMENT, "the object id is missing");
    assertStatus(() -> admin.resync(AdminResyncRequest.newBuilder().setPeer("zed").build()),
        Status.Code.NOT_FOUND, "node 'a' has no open stream with a peer named 'zed'; connected: [b]");
    assertStatus(() -> admin.pausePeer(PeerRef.newBuilder().setPeer("zed").build()),
        Status.Code.NOT_FOUND, "node 'a' has no open stream with a peer named 'zed'; connected: [b]");
    assertStatus(() -> admin.addPeer(AddPeerRequest.newBuilder().setAddress("nowhere:port").build()),
        Status.Code.INVALID_ARGUMENT, null);
    assertThat(a.entanglement().connectedPeers()).containsExactly("b");
  }

  @Test
  void resync_reallySendsAgain_allOrByEntity() {
    createAtA(4, "R");
    a.awaitCaughtUp("b");
    long before = peer("b").getChangesSent();
    String message = admin.resync(AdminResyncRequest.newBuilder().setPeer("b").build()).getMessage();
    assertThat(message).isEqualTo("sending peer 'b' everything again, with a sweep");
    await().atMost(Duration.ofSeconds(10)).until(() -> peer("b").getChangesSent() >= before + 4);
    a.awaitCaughtUp("b");
    long middle = peer("b").getChangesSent();
    assertThat(admin.resync(AdminResyncRequest.newBuilder().setPeer("b").setEntity("Item").build()).getMessage())
        .isEqualTo("sending peer 'b' 4 objects of Item again");
    await().atMost(Duration.ofSeconds(10)).until(() -> peer("b").getChangesSent() >= middle + 4);
  }

  @Test
  void pauseAndResume_stopAndRestartTheFlow() {
    admin.pausePeer(PeerRef.newBuilder().setPeer("b").build());
    assertThat(peer("b").getPaused()).isTrue();
    Item held = createAtA(1, "P").get(0);
    await().during(Duration.ofMillis(800)).atMost(Duration.ofSeconds(3)).until(() -> b.find(Item.class, held.getId()) == null);
    assertThat(peer("b").getOutboxDepth()).isEqualTo(1);
    assertThat(a.entanglement().connectedPeers()).as("the stream stays open while paused").contains("b");
    admin.resumePeer(PeerRef.newBuilder().setPeer("b").build());
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, held.getId()) != null);
    assertThat(peer("b").getPaused()).isFalse();
  }

  @Test
  void addAndRemovePeer() {
    String addressC = "adm-c-" + UUID.randomUUID();
    TestNode c = track(TestNode.builder("c", Database.H2, Item.class).listenInProcess(addressC).start());
    createAtA(2, "A");
    assertThat(admin.addPeer(AddPeerRequest.newBuilder().setAddress("inprocess:" + addressC).build()).getMessage())
        .isEqualTo("node 'a' dials inprocess:" + addressC);
    await().atMost(Duration.ofSeconds(10)).until(() -> c.all(Item.class).size() == 2);
    assertThat(admin.removePeer(PeerRef.newBuilder().setPeer("c").build()).getMessage())
        .isEqualTo("node 'a' stopped dialing 'c' and closed its stream");
    await().atMost(Duration.ofSeconds(10)).until(() -> !a.entanglement().connectedPeers().contains("c"));
    createAtA(1, "B");
    await().during(Duration.ofMillis(800)).atMost(Duration.ofSeconds(3))
        .until(() -> c.all(Item.class).size() == 2 && !a.entanglement().connectedPeers().contains("c"));
    assertStatus(() -> admin.removePeer(PeerRef.newBuilder().setPeer("c").build()), Status.Code.NOT_FOUND,
        "node 'a' has no peer named or added as 'c'");
  }

  @Test
  void callsWithoutOrWithWrongCredentials_areRefused_andChangeNothing() {
    AdminGrpc.AdminBlockingStub anonymous = AdminGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    assertStatus(() -> anonymous.pausePeer(PeerRef.newBuilder().setPeer("b").build()), Status.Code.UNAUTHENTICATED,
        "admin calls to node 'a' need credentials: an 'authorization: Bearer <token>' header "
            + "(entanglement.admin.token) or an admin client certificate (entanglement.admin.trusted_fingerprints)");
    assertStatus(() -> withToken("wrong-token-0123456789").pausePeer(PeerRef.newBuilder().setPeer("b").build()),
        Status.Code.PERMISSION_DENIED, "the admin token presented to node 'a' is not the one configured");
    assertThat(peer("b").getPaused()).as("nothing changed").isFalse();
  }

  @Test
  void healthAndReflection_answerWithoutProtoFiles() throws Exception {
    HealthCheckResponse health = HealthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .check(HealthCheckRequest.newBuilder().setService("entanglement.v1.Admin").build());
    assertThat(health.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);

    CompletableFuture<List<String>> services = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
        .serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(ServerReflectionResponse response) {
            services.complete(response.getListServicesResponse().getServiceList().stream().map(ServiceResponse::getName).toList());
          }

          @Override
          public void onError(Throwable t) {
            services.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
    assertThat(services.get(10, TimeUnit.SECONDS))
        .contains("entanglement.v1.Admin", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection");
    requests.onCompleted();
  }

  @Test
  void meters_arePresentAndMoveWhenChangesFlow() {
    createAtA(5, "M");
    a.awaitCaughtUp("b");
    assertThat(meters.get("entanglement.capture.changes").tag("node", "a").counter().count()).isGreaterThanOrEqualTo(5);
    assertThat(meters.get("entanglement.capture.bookkeeping").tag("node", "a").timer().count()).isPositive();
    assertThat(meters.get("entanglement.peer.changes.sent").tags("node", "a", "peer", "b").functionCounter().count())
        .isGreaterThanOrEqualTo(5);
    assertThat(meters.get("entanglement.peer.bytes.sent").tags("node", "a", "peer", "b").functionCounter().count()).isPositive();
    assertThat(meters.get("entanglement.peer.lag.serials").tags("node", "a", "peer", "b").gauge().value()).isZero();
    assertThat(meters.get("entanglement.peers.connected").tag("node", "a").gauge().value()).isEqualTo(1);
    b.inTransaction(em -> em.persist(new Item("FROM-B", "b's", 1)));
    await().atMost(Duration.ofSeconds(10)).until(() -> meters.find("entanglement.apply.changes").tag("node", "a").counter() != null
        && meters.get("entanglement.apply.changes").tag("node", "a").counter().count() >= 1);
    assertThat(meters.get("entanglement.apply.batch").tag("node", "a").timer().count()).isPositive();
  }

  private static void assertStatus(Runnable call, Status.Code code, String description) {
    assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
      assertThat(e.getStatus().getCode()).isEqualTo(code);
      if (description != null) {
        assertThat(e.getStatus().getDescription()).isEqualTo(description);
      }
      assertThat(e.getStatus().getDescription()).doesNotContain("\tat ");
    });
  }
}
