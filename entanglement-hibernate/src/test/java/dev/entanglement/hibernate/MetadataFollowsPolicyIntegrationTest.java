package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.ExercisePolicy;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.RecordingRelay;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.proto.v1.DescribeObjectRequest;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.ObjectDescription;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 17, item 1: metadata follows policy between nodes. The exercise through the range
 * gateway (red and blue share with staff, never with each other, every node runs
 * {@link ExercisePolicy}); red dials range through a {@link RecordingRelay}, so the test reads
 * every frame red receives. Red must learn nothing of blue: not its name, not its ids, not its
 * positions, not a route to it; on the wire or on disk. Range's admin answer about a blue object
 * names no acknowledgement by red.
 */
class MetadataFollowsPolicyIntegrationTest {
  private static final String TOKEN = "metadata-admin-token";
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final String rangeAddress = "meta-range-" + UUID.randomUUID();
  private final String relayAddress = "meta-relay-" + UUID.randomUUID();
  private TestNode range;
  private TestNode staff;
  private TestNode blue;
  private TestNode red;
  private RecordingRelay relay;

  @BeforeEach
  void exercise() {
    range = track(node("range").listenInProcess(rangeAddress).set(EntanglementSettings.ADMIN_TOKEN, TOKEN).start());
    relay = track(RecordingRelay.start(relayAddress, rangeAddress));
    staff = track(node("staff").peers("inprocess:" + rangeAddress).start());
    blue = track(node("blue").peers("inprocess:" + rangeAddress).start());
    red = track(node("red").peers("inprocess:" + relayAddress).start());
    for (String name : List.of("staff", "blue", "red")) {
      range.awaitConnected(name);
    }
  }

  private static TestNode.Builder node(String name) {
    return TestNode.builder(name, Database.H2, Item.class)
        .set(EntanglementSettings.POLICY, ExercisePolicy.class.getName())
        .set(EntanglementSettings.REQUEST_LIFETIME, "15s");
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

  private static Item persist(TestNode node, String code) {
    Item item = new Item(code, code, 1);
    node.inTransaction(em -> em.persist(item));
    return item;
  }

  private static void rename(TestNode node, UUID id, String name) {
    node.inTransaction(em -> em.find(Item.class, id).setName(name));
  }

  private static void awaitName(TestNode node, UUID id, String name) {
    await().alias(node.name() + " holds " + name).atMost(Duration.ofSeconds(30)).until(() -> {
      Item item = node.find(Item.class, id);
      return item != null && item.getName().equals(name);
    });
  }

  @Test
  void redNeverHearsOfBlue_onTheWire_onDisk_orInRangesAdminAnswers() throws Exception {
    List<UUID> blueIds = new ArrayList<>();
    Item staffItem = persist(staff, "staff-1");
    blueIds.add(persist(blue, "blue-1").getId());
    Item redItem = persist(red, "red-1");
    awaitName(red, staffItem.getId(), "staff-1");
    awaitName(staff, redItem.getId(), "red-1");
    awaitName(staff, blueIds.get(0), "blue-1");
    range.awaitCaughtUp("red");

    // red away while blue and staff change things; red catches up when it is back
    red.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> !range.entanglement().connectedPeers().contains("red"));
    rename(blue, blueIds.get(0), "blue-1 patched");
    blueIds.add(persist(blue, "blue-2").getId());
    rename(staff, staffItem.getId(), "staff-1 while red was away");
    awaitName(range, blueIds.get(1), "blue-2");
    red = track(red.again().start());
    awaitName(red, staffItem.getId(), "staff-1 while red was away");
    range.awaitCaughtUp("red");

    // live changes of blue, then a change of staff's to know they have passed range
    rename(blue, blueIds.get(0), "blue-1 live");
    blueIds.add(persist(blue, "blue-3").getId());
    awaitName(range, blueIds.get(2), "blue-3");
    rename(staff, staffItem.getId(), "staff-1 after the other team's live changes");
    awaitName(red, staffItem.getId(), "staff-1 after the other team's live changes");

    // a policy change at range: markers for every owner it serves
    range.entanglement().policyChanged();
    range.awaitCaughtUp("red");

    // an ownership hand-over from staff to blue of an object red held
    Item handed = persist(staff, "staff-handed");
    awaitName(red, handed.getId(), "staff-handed");
    staff.entanglement().transfer(Item.class, handed.getId(), "blue").get(20, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(20)).until(() -> range.entanglement().ownerOf(Item.class, handed.getId())
        .orElse("").equals("blue"));
    blueIds.add(handed.getId());
    rename(blue, handed.getId(), "handed, now blue's");
    awaitName(range, handed.getId(), "handed, now blue's");

    // requests: red asks staff (through range) to change staff's object
    red.entanglement().update(Item.class, staffItem.getId(), i -> i.setName("asked by red")).get(20, TimeUnit.SECONDS);
    awaitName(red, staffItem.getId(), "asked by red");
    range.awaitCaughtUp("red");

    List<String> leaks = new ArrayList<>();
    for (Envelope frame : relay.toDialer()) {
      String text = frame.toString() + frame.toByteString().toStringUtf8();
      if (text.contains("blue") || blueIds.subList(0, 3).stream().anyMatch(id -> text.contains(id.toString()))) {
        leaks.add(frame.getBodyCase() + ": " + frame.toString().replace('\n', ' '));
      }
    }
    assertThat(leaks).as("frames red received naming blue or carrying a blue id").isEmpty();

    List<String> onDisk = new ArrayList<>();
    @SuppressWarnings("unchecked")
    List<Object> tables = (List<Object>) red.read(em -> em.createNativeQuery(
        "SELECT table_name FROM information_schema.tables WHERE LOWER(table_name) LIKE 'entanglement%'").getResultList());
    for (Object table : tables) {
      for (String row : red.table("\"" + table + "\"")) {
        if (row.contains("blue")) {
          onDisk.add(table + ": " + row);
        }
      }
    }
    assertThat(onDisk).as("rows in red's database naming blue").isEmpty();

    // range's admin answer about a blue object: red may not hold it, so nothing about red
    String name = "meta-admin-" + UUID.randomUUID();
    Server server = InProcessServerBuilder.forName(name).addService(range.entanglement().adminService()).build().start();
    ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
    try {
      Metadata headers = new Metadata();
      headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + TOKEN);
      AdminGrpc.AdminBlockingStub admin = AdminGrpc.newBlockingStub(channel)
          .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers)).withDeadlineAfter(10, TimeUnit.SECONDS);
      ObjectDescription blueObject = admin.describeObject(DescribeObjectRequest.newBuilder()
          .setEntity("Item").setId(blueIds.get(0).toString()).build());
      assertThat(blueObject.getAcknowledgedByList()).as("acknowledged by").contains("staff").doesNotContain("red");
      assertThat(blueObject.getNotYetAcknowledgedByList()).as("not yet acknowledged by").doesNotContain("red");
      ObjectDescription staffObject = admin.describeObject(DescribeObjectRequest.newBuilder()
          .setEntity("Item").setId(staffItem.getId().toString()).build());
      assertThat(staffObject.getAcknowledgedByList()).as("a staff object is reported for both teams")
          .contains("red", "blue");
    } finally {
      channel.shutdownNow();
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /**
   * Positions still work for the owners red may see: a leaf that dials (its first Hello names no
   * owner, its positions follow once range answered) and comes back after being away gets only
   * the objects changed meanwhile, not everything again (issue 15's catch-up target).
   */
  @Test
  void leafBackAfterBeingAway_getsOnlyTheChangedObjects() {
    int total = 200;
    int changed = 10;
    List<UUID> ids = new ArrayList<>();
    staff.inTransaction(em -> {
      for (int i = 0; i < total; i++) {
        Item item = new Item("staff-" + i, "v1", i);
        em.persist(item);
        ids.add(item.getId());
      }
    });
    UUID blueId = persist(blue, "blue-1").getId();
    await().atMost(Duration.ofSeconds(30)).until(() -> red.all(Item.class).size() == total);
    range.awaitCaughtUp("red");
    assertThat(red.sql("SELECT COUNT(*) FROM entanglement_owner_position WHERE owner_node = 'staff'"))
        .as("red holds a position of staff").isEqualTo(1L);

    red.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> !range.entanglement().connectedPeers().contains("red"));
    staff.inTransaction(em -> {
      for (int i = 0; i < changed; i++) {
        em.find(Item.class, ids.get(i)).setName("v2");
      }
    });
    rename(blue, blueId, "blue-1 while red was away");
    awaitName(range, ids.get(changed - 1), "v2");
    red = track(red.again().start());
    range.awaitConnected("red");
    for (int i = 0; i < changed; i++) {
      awaitName(red, ids.get(i), "v2");
    }
    range.awaitCaughtUp("red");
    long sent = range.status("red").changesSent();
    assertThat(sent).as("changes range sent red on its return (%d changed of %d)", changed, total)
        .isLessThanOrEqualTo((long) Math.floor(changed * 1.01));
    assertThat(red.status("range").changesAppliedHere()).isEqualTo(changed);
  }

  private static Envelope hello(String name, boolean positionsFollow, OwnerPosition... owners) {
    Hello.Builder hello = Hello.newBuilder().setProtocolVersion(1).setNodeName(name).addAllOwners(List.of(owners));
    if (positionsFollow) {
      hello.addCapabilities("positions-follow");
    }
    return Envelope.newBuilder().setHello(hello).build();
  }

  /**
   * The handshake with capability positions-follow, on the wire: range answers a dialer's Hello
   * naming only owners the dialer may name (red may name staff, not blue), waits for its
   * positions before it streams, and ends the stream when they come under another name.
   */
  @Test
  void positionsFollowTheHello_andComeUnderTheDialersOwnName() throws Exception {
    persist(staff, "staff-1");
    persist(blue, "blue-1");
    await().atMost(Duration.ofSeconds(20)).until(() -> range.all(Item.class).size() == 2);
    red.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> !range.entanglement().connectedPeers().contains("red"));

    RecordingPeer dialer = track(RecordingPeer.dial(rangeAddress));
    dialer.request(10);
    dialer.send(hello("red", true));
    await().atMost(Duration.ofSeconds(10)).until(() -> !dialer.hellos().isEmpty());
    assertThat(dialer.hellos().get(0).getOwnersList()).extracting(OwnerPosition::getOwner)
        .contains("staff").doesNotContain("blue");
    assertThat(range.entanglement().connectedPeers()).as("registered, awaiting its positions").contains("red");
    assertThat(range.status("red")).as("not streaming before its positions").isNull();
    dialer.send(hello("red", true, OwnerPosition.newBuilder().setOwner("staff").setSerial(1).build()));
    await().atMost(Duration.ofSeconds(10)).until(() -> range.status("red") != null);
    await().atMost(Duration.ofSeconds(10)).until(() -> dialer.received().stream().anyMatch(Envelope::hasRoutes));
    assertThat(dialer.received().stream().filter(Envelope::hasRoutes).flatMap(e -> e.getRoutes().getRoutesList().stream())
        .map(r -> r.getOwner())).contains("staff", "range").doesNotContain("blue");
    dialer.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> !range.entanglement().connectedPeers().contains("red"));

    RecordingPeer impostor = track(RecordingPeer.dial(rangeAddress));
    impostor.request(10);
    impostor.send(hello("red", true));
    await().atMost(Duration.ofSeconds(10)).until(() -> !impostor.hellos().isEmpty());
    impostor.send(hello("staff", true));
    Status ended = impostor.awaitEnd();
    assertThat(ended.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(ended.getDescription()).isEqualTo("peer 'red' sent its positions under the name 'staff'; expected its own name");
  }
}
