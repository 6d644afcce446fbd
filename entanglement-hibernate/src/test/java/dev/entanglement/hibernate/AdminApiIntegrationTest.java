package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingObject;
import dev.entanglement.hibernate.policy.Policy;
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

  private String addressA;

  @BeforeEach
  void nodes() {
    addressA = "adm-a-" + UUID.randomUUID();
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
    // the owner directory's route, also to an owner that holds nothing yet
    assertThat(owners).anySatisfy(o -> {
      assertThat(o.getOwner()).isEqualTo("b");
      assertThat(o.getNextHop()).isEqualTo("b");
      assertThat(o.getPathList()).containsExactly("b");
    });
  }

  private ObjectDescription describe(Item item) {
    return admin.describeObject(DescribeObjectRequest.newBuilder().setEntity("Item").setId(item.getId().toString()).build());
  }

  @Test
  void describeObject_showsTransitionsInProgress_andPendingUpdateRequests() {
    Item ofB = new Item("OF-B", "b's", 1);
    b.inTransaction(em -> em.persist(ofB));
    await().atMost(Duration.ofSeconds(10)).until(() -> a.find(Item.class, ofB.getId()) != null);
    assertThat(describe(ofB).getTransitionsList()).isEmpty();

    Transition<Item> drag = b.entanglement().startTransition(Item.class, ofB.getId());
    drag.update(i -> i.setName("dragging"));
    await().atMost(Duration.ofSeconds(10)).until(() -> describe(ofB).getTransitionsCount() == 1);
    assertThat(describe(ofB).getTransitionsList()).containsExactly("b:" + drag.id());
    drag.cancel();
    await().atMost(Duration.ofSeconds(10)).until(() -> describe(ofB).getTransitionsCount() == 0);

    // a's change of b's object is an update request to b; with b away it waits for a route
    assertThat(describe(ofB).getPendingRequests()).isZero();
    b.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> !a.entanglement().connectedPeers().contains("b"));
    CompletableFuture<Item> asked = a.entanglement().update(Item.class, ofB.getId(), i -> i.setQuantity(2));
    await().atMost(Duration.ofSeconds(5)).until(() -> describe(ofB).getPendingRequests() == 1);
    assertThat(describe(ofB).getOwner()).isEqualTo("b");
    asked.cancel(false);
  }

  @Test
  void badArguments_getClearStatuses_neverAStackTrace() {
    assertStatus(() -> admin.describeObject(DescribeObjectRequest.newBuilder().setEntity("Nope").setId("1").build()),
        Status.Code.NOT_FOUND, "node 'a' has no @Entangled entity named 'Nope'; it has [Item]");
    assertStatus(() -> admin.describeObject(DescribeObjectRequest.newBuilder().setEntity("Item").setId("not-a-uuid").build()),
        Status.Code.INVALID_ARGUMENT, "'not-a-uuid' is not an id of Item; expected a UUID (ListObjects, the CLI's objects "
            + "command, lists ids)");
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
  void pauseAndResume_stopAndRestartTheFlowBothWays() {
    admin.pausePeer(PeerRef.newBuilder().setPeer("b").build());
    assertThat(peer("b").getPaused()).isTrue();
    Item toB = createAtA(1, "P").get(0);
    Item fromB = new Item("FROM-B", "made at b while paused", 1);
    b.inTransaction(em -> em.persist(fromB));
    await().during(Duration.ofMillis(800)).atMost(Duration.ofSeconds(3))
        .until(() -> b.find(Item.class, toB.getId()) == null && a.find(Item.class, fromB.getId()) == null);
    assertThat(peer("b").getOutboxDepth()).isEqualTo(1);
    assertThat(a.entanglement().connectedPeers()).as("the stream stays open while paused").contains("b");
    assertThat(b.entanglement().connectedPeers()).contains("a");

    admin.resumePeer(PeerRef.newBuilder().setPeer("b").build());
    await().atMost(Duration.ofSeconds(10))
        .until(() -> b.find(Item.class, toB.getId()) != null && a.find(Item.class, fromB.getId()) != null);
    assertThat(peer("b").getPaused()).isFalse();
  }

  @Test
  void aPause_outlastsAReconnect_untilResumed() {
    admin.pausePeer(PeerRef.newBuilder().setPeer("b").build());
    b = track(b.restart());
    await().atMost(Duration.ofSeconds(10)).until(() -> a.entanglement().connectedPeers().contains("b")
        && b.entanglement().connectedPeers().contains("a"));
    assertThat(peer("b").getPaused()).as("the new stream starts paused").isTrue();
    Item held = createAtA(1, "Q").get(0);
    await().during(Duration.ofMillis(800)).atMost(Duration.ofSeconds(3)).until(() -> b.find(Item.class, held.getId()) == null);

    admin.resumePeer(PeerRef.newBuilder().setPeer("b").build());
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, held.getId()) != null);
  }

  @Test
  void resync_byOwner_sendsThatOwnersObjectsAgain_andRefusesOwnersItCannotSend() {
    createAtA(3, "O");
    a.awaitCaughtUp("b");
    long before = peer("b").getChangesSent();
    assertThat(admin.resync(AdminResyncRequest.newBuilder().setPeer("b").setOwner("a").build()).getMessage())
        .isEqualTo("sending peer 'b' the objects of owner 'a' again, with a sweep");
    await().atMost(Duration.ofSeconds(10)).until(() -> peer("b").getChangesSent() >= before + 3);
    a.awaitCaughtUp("b");
    assertThat(b.all(Item.class)).hasSize(3);

    assertStatus(() -> admin.resync(AdminResyncRequest.newBuilder().setPeer("b").setOwner("zed").build()),
        Status.Code.NOT_FOUND, "node 'a' holds no objects of an owner named 'zed'; its owners: [a]");
    assertStatus(() -> admin.resync(AdminResyncRequest.newBuilder().setPeer("b").setOwner("b").build()),
        Status.Code.INVALID_ARGUMENT, "peer 'b' is the owner 'b' itself; a resync sends a peer the objects of other owners");
    assertStatus(() -> admin.resync(AdminResyncRequest.newBuilder().setPeer("b").setEntity("Nope").build()),
        Status.Code.NOT_FOUND, "node 'a' has no @Entangled entity named 'Nope'; it has [Item]");
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
        "node 'a' has no peer named or added as 'c'; connected: [b], dialing: []");
  }

  @Test
  void addPeer_refusesAnAddressItAlreadyDials_andTcpWithoutTls() {
    String addressC = "adm-c-" + UUID.randomUUID();
    track(TestNode.builder("c", Database.H2, Item.class).listenInProcess(addressC).start());
    admin.addPeer(AddPeerRequest.newBuilder().setAddress("inprocess:" + addressC).build());
    assertStatus(() -> admin.addPeer(AddPeerRequest.newBuilder().setAddress("inprocess:" + addressC).build()),
        Status.Code.ALREADY_EXISTS, "node 'a' already dials inprocess:%s; it dials [inprocess:%s]".formatted(addressC, addressC));
    assertStatus(() -> admin.addPeer(AddPeerRequest.newBuilder().setAddress("10.9.8.7:7400").build()),
        Status.Code.FAILED_PRECONDITION, "cannot dial 10.9.8.7:7400: TCP peers need mutual TLS (entanglement.tls.*), "
            + "or entanglement.transport.plaintext=true on a trusted network");
    assertStatus(() -> admin.addPeer(AddPeerRequest.newBuilder().setAddress("nowhere:port").build()),
        Status.Code.INVALID_ARGUMENT, "peer address 'nowhere:port' is invalid; expected host:port with a numeric port from 0 to 65535");
    assertStatus(() -> admin.addPeer(AddPeerRequest.newBuilder().setAddress(" ").build()),
        Status.Code.INVALID_ARGUMENT, "the peer address is missing");
    assertThat(a.entanglement().connectedPeers()).as("the node keeps running").contains("b");
  }

  @Test
  void removingAPeerThatDialedIn_saysItMayDialAgain() {
    assertThat(admin.removePeer(PeerRef.newBuilder().setPeer("b").build()).getMessage())
        .isEqualTo("node 'a' closed the stream 'b' had dialed in (it may dial again: remove 'a' from its peers to keep them apart)");
  }

  @Test
  void callsWithoutOrWithWrongCredentials_areRefused_andChangeNothing() {
    AdminGrpc.AdminBlockingStub anonymous = AdminGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    assertStatus(() -> anonymous.pausePeer(PeerRef.newBuilder().setPeer("b").build()), Status.Code.UNAUTHENTICATED,
        "admin calls to node 'a' need credentials: an 'authorization: Bearer <token>' header "
            + "(entanglement.admin.token) or an admin client certificate (entanglement.admin.trusted_fingerprints)");
    assertStatus(() -> withToken("wrong-token-0123456789").pausePeer(PeerRef.newBuilder().setPeer("b").build()),
        Status.Code.PERMISSION_DENIED, "the admin token presented to node 'a' is not the one configured");
    assertStatus(() -> withToken("wrong-token-0123456789").removePeer(PeerRef.newBuilder().setPeer("b").build()),
        Status.Code.PERMISSION_DENIED, "the admin token presented to node 'a' is not the one configured");
    assertThat(peer("b").getPaused()).as("nothing changed").isFalse();
    assertThat(a.entanglement().connectedPeers()).as("nothing changed").contains("b");
  }

  @Test
  void garbledCredentials_areUnauthenticated() {
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Basic YWRtaW46YWRtaW4=");
    AdminGrpc.AdminBlockingStub basic = AdminGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers)).withDeadlineAfter(10, TimeUnit.SECONDS);
    assertStatus(() -> basic.pausePeer(PeerRef.newBuilder().setPeer("b").build()), Status.Code.UNAUTHENTICATED,
        "the authorization header sent to node 'a' is not 'Bearer <token>'");
    assertThat(peer("b").getPaused()).as("nothing changed").isFalse();
  }

  @Test
  void rejections_areCountedByPeerAndReason_inListPeersAndMeters() {
    Policy fewOnly = new Policy() {
      @Override
      public Decision receiveObject(dev.entanglement.hibernate.policy.Peer peer, IncomingObject object) {
        return Decision.denyIf(((Item) object.incoming()).getQuantity() > 100, "large stocks are not taken");
      }
    };
    TestNode c = track(TestNode.builder("c", Database.H2, Item.class).peers("inprocess:" + addressA)
        .set(EntanglementSettings.POLICY, fewOnly).set(EntanglementSettings.METRICS_REGISTRY, meters).start());
    a.awaitConnected("c");
    a.inTransaction(em -> em.persist(new Item("BIG", "large", 500)));
    await().atMost(Duration.ofSeconds(10)).until(() -> peer("c").getRejectedByPeerByReasonMap().getOrDefault("POLICY", 0L) >= 1);
    assertThat(peer("c").getRejectedByPeer()).isPositive();
    assertThat(peer("b").getRejectedByPeerByReasonMap()).isEmpty();
    assertThat(meters.get("entanglement.peer.rejections").tags("node", "a", "peer", "c", "side", "peer", "reason", "POLICY")
        .counter().count()).isPositive();
    await().atMost(Duration.ofSeconds(10)).until(() -> meters.find("entanglement.peer.rejections")
        .tags("node", "c", "peer", "a", "side", "here", "reason", "POLICY").counter() != null);
    assertThat(meters.get("entanglement.peer.policy.denials").tags("node", "c", "peer", "a").functionCounter().count())
        .isPositive();
    assertThat(c.all(Item.class)).isEmpty();
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

  /** Common clients (older grpcurl, some IDEs) still ask the v1alpha reflection service first. */
  @Test
  void reflection_answersOnV1alphaToo() throws Exception {
    CompletableFuture<List<String>> services = new CompletableFuture<>();
    StreamObserver<io.grpc.reflection.v1alpha.ServerReflectionRequest> requests =
        io.grpc.reflection.v1alpha.ServerReflectionGrpc.newStub(channel).serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(io.grpc.reflection.v1alpha.ServerReflectionResponse response) {
            services.complete(response.getListServicesResponse().getServiceList().stream()
                .map(io.grpc.reflection.v1alpha.ServiceResponse::getName).toList());
          }

          @Override
          public void onError(Throwable t) {
            services.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    requests.onNext(io.grpc.reflection.v1alpha.ServerReflectionRequest.newBuilder().setListServices("").build());
    assertThat(services.get(10, TimeUnit.SECONDS)).contains("entanglement.v1.Admin", "grpc.health.v1.Health");
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
    assertThat(meters.get("entanglement.peer.lag.objects").tags("node", "a", "peer", "b").gauge().value()).isZero();
    assertThat(meters.get("entanglement.peer.paused").tags("node", "a", "peer", "b").gauge().value()).isZero();
    admin.pausePeer(PeerRef.newBuilder().setPeer("b").build());
    assertThat(meters.get("entanglement.peer.paused").tags("node", "a", "peer", "b").gauge().value()).isEqualTo(1);
    createAtA(2, "N");
    await().atMost(Duration.ofSeconds(10))
        .until(() -> meters.get("entanglement.peer.lag.objects").tags("node", "a", "peer", "b").gauge().value() == 2);
    assertThat(meters.get("entanglement.peer.lag.serials").tags("node", "a", "peer", "b").gauge().value()).isEqualTo(2);
    admin.resumePeer(PeerRef.newBuilder().setPeer("b").build());
    await().atMost(Duration.ofSeconds(10))
        .until(() -> meters.get("entanglement.peer.lag.objects").tags("node", "a", "peer", "b").gauge().value() == 0);
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
