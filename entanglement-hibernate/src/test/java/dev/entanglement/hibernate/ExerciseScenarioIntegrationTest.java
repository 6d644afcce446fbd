package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Certificates;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.ExercisePolicy;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Memo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exercise over mutual TLS on loopback: {@code staff}, {@code range} (a gateway), {@code red}
 * and {@code blue}; red and blue connect only to range, staff connects to range. Every node runs {@link ExercisePolicy}
 * (by class name). Machines are {@link Item}s owned by the team that registered them;
 * announcements are staff's {@link Memo}s.
 */
class ExerciseScenarioIntegrationTest {
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private TestNode staff;
  private TestNode range;
  private TestNode red;
  private TestNode blue;

  @TempDir Path certificateDir;
  private Certificates certificates;

  /** Four nodes over mutual TLS on loopback, certificates from one exercise CA. */
  @BeforeEach
  void exercise() throws Exception {
    certificates = new Certificates(certificateDir);
    range = node(certificates, "range", null);
    String rangeAddress = range.entanglement().listenAddress().orElseThrow();
    staff = node(certificates, "staff", rangeAddress);
    red = node(certificates, "red", rangeAddress);
    blue = node(certificates, "blue", rangeAddress);
    for (String name : List.of("staff", "red", "blue")) {
      range.awaitConnected(name);
    }
    for (TestNode node : List.of(staff, red, blue)) {
      assertThat(node.entanglement().peers().get(0).address()).isEqualTo(rangeAddress);
    }
  }

  private TestNode node(Certificates certificates, String name, String dial) throws Exception {
    TestNode.Builder builder = TestNode.builder(name, Database.H2, Item.class, Memo.class)
        .set(EntanglementSettings.POLICY, ExercisePolicy.class.getName())
        .set(EntanglementSettings.REQUEST_LIFETIME, "15s");
    if (dial == null) {
      builder.set(EntanglementSettings.LISTEN, "127.0.0.1:0");
    } else {
      builder.peers(dial);
    }
    return track(certificates.tls(builder, name, "exercise", "exercise").start());
  }

  private dev.entanglement.hibernate.testing.LogCapture log;

  @BeforeEach
  void captureLog() {
    log = dev.entanglement.hibernate.testing.LogCapture.start();
  }

  @AfterEach
  void close() throws Exception {
    log.close();
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private <T extends AutoCloseable> T track(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  private static List<String> codes(TestNode node) {
    return node.all(Item.class).stream().map(Item::getCode).sorted().toList();
  }

  @Test
  void teamsShareWithStaffNeverWithEachOther_requestsReachTheirOwner_andAnnouncementsReachEveryone() throws Exception {
    Item redMachine = new Item("red-vm-1", "red web server", 1);
    Item blueMachine = new Item("blue-vm-1", "blue mail server", 1);
    red.inTransaction(em -> em.persist(redMachine));
    blue.inTransaction(em -> em.persist(blueMachine));
    staff.inTransaction(em -> em.persist(new Memo(1, "exercise starts at 09:00", false)));

    await().atMost(Duration.ofSeconds(15)).until(() -> codes(staff).equals(List.of("blue-vm-1", "red-vm-1")));
    for (TestNode node : List.of(range, red, blue)) {
      await().alias("announcement at " + node.name()).atMost(Duration.ofSeconds(15))
          .until(() -> node.find(Memo.class, 1L) != null);
    }
    range.awaitCaughtUp("red");
    range.awaitCaughtUp("blue");
    assertThat(codes(range)).containsExactly("blue-vm-1", "red-vm-1");
    assertThat(codes(red)).as("red's database").containsExactly("red-vm-1");
    assertThat(codes(blue)).as("blue's database").containsExactly("blue-vm-1");
    // what crossed the wire: red and blue each received exactly staff's announcement
    assertThat(applied(red)).isEqualTo(1);
    assertThat(applied(blue)).isEqualTo(1);
    assertThat(range.entanglement().policyDenials()).containsExactlyInAnyOrder(
        new PolicyDenial("blue", PolicyDenial.Direction.SEND, PolicyDenial.Check.SEND, 1,
            "objects of team 'red' are not shared with team 'blue'"),
        new PolicyDenial("red", PolicyDenial.Direction.SEND, PolicyDenial.Check.SEND, 1,
            "objects of team 'blue' are not shared with team 'red'"));

    // a blue analyst at staff proposes a change to a blue machine: forwarded through range to blue
    Item changed = staff.entanglement().update(Item.class, blueMachine.getId(), m -> m.setName("patched by staff"))
        .get(20, TimeUnit.SECONDS);
    assertThat(changed.getName()).isEqualTo("patched by staff");
    assertThat(blue.find(Item.class, blueMachine.getId()).getName()).isEqualTo("patched by staff");

    // blue tries to create a red machine (it guessed the name): range never told blue of red (issue
    // 17: no route, no position, no name), so the request finds no path and never leaves blue
    Item forged = new Item("red-vm-1-forged", "taken over by blue", 0);
    assertThatThrownBy(() -> blue.entanglement().create(forged, "red").get(30, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class).cause()
        .isInstanceOf(UpdateRequestException.OwnerUnreachable.class)
        .hasMessageContaining("node 'blue' has never heard of owner 'red'");
    assertThat(red.find(Item.class, forged.getId())).isNull();
    assertThat(codes(red)).containsExactly("red-vm-1");
  }

  /**
   * A modified blue node, built from the public wire contract with blue's genuine certificate,
   * asks range to create a red-owned machine in the name of staff: first claiming staff as the
   * origin outright, then as if relaying staff's request, then with its own signature under staff's
   * name. Each is refused at range with its reason (ORIGIN, then SIGNATURE twice), counted for peer
   * blue, and logged once per reason; red never hears of it.
   */
  @Test
  void aModifiedBlueNodeClaimingToBeStaff_cannotCreateRedObjects() throws Exception {
    blue.close(); // its certificate is what the modified node presents
    String rangeAddress = range.entanglement().listenAddress().orElseThrow();
    await().atMost(Duration.ofSeconds(10)).until(() -> !range.entanglement().peers().stream()
        .anyMatch(p -> "blue".equals(p.name()) && p.state() == PeerStatus.State.STREAMING));
    java.nio.file.Path blueDir = certificates.node("blue", "exercise");
    dev.entanglement.hibernate.internal.transport.TlsConfig blueKey = dev.entanglement.hibernate.internal.transport.TlsConfig
        .read("blue", blueDir.resolve(dev.entanglement.hibernate.tls.DevCertificates.CERTIFICATE).toString(),
            blueDir.resolve(dev.entanglement.hibernate.tls.DevCertificates.PRIVATE_KEY).toString(),
            certificates.ca("exercise").resolve(dev.entanglement.hibernate.tls.DevCertificates.CERTIFICATE).toString(), null);
    List<com.google.protobuf.ByteString> chain = new ArrayList<>();
    for (var certificate : blueKey.chain()) {
      chain.add(com.google.protobuf.ByteString.copyFrom(certificate.getEncoded()));
    }
    try (dev.entanglement.hibernate.testing.RecordingPeer modified = dev.entanglement.hibernate.testing.RecordingPeer
        .dialTls(rangeAddress, blueDir, certificates.ca("exercise").resolve(dev.entanglement.hibernate.tls.DevCertificates.CERTIFICATE))) {
      modified.request(1000);
      modified.send(dev.entanglement.proto.v1.Envelope.newBuilder().setHello(dev.entanglement.proto.v1.Hello.newBuilder()
          .setProtocolVersion(1).setNodeName("blue").addCapabilities("signed-state").addAllCertificates(chain)).build());
      await().atMost(Duration.ofSeconds(10)).until(() -> !modified.hellos().isEmpty());

      String machine = java.util.UUID.randomUUID().toString();
      dev.entanglement.proto.v1.UpdateRequest forged = dev.entanglement.proto.v1.UpdateRequest.newBuilder()
          .setRequestId(1).setOrigin("staff").setKind(dev.entanglement.proto.v1.RequestKind.CREATE).setEntity("Item")
          .setId(dev.entanglement.proto.v1.Value.newBuilder().setUuid(machine)).setOwner("red")
          .setRequestKey(java.util.UUID.randomUUID().toString())
          .addAttributes(dev.entanglement.proto.v1.Attribute.newBuilder().setName("code")
              .setValue(dev.entanglement.proto.v1.Value.newBuilder().setText("red-vm-backdoor")))
          .addAttributes(dev.entanglement.proto.v1.Attribute.newBuilder().setName("name")
              .setValue(dev.entanglement.proto.v1.Value.newBuilder().setText("planted by blue")))
          .addAttributes(dev.entanglement.proto.v1.Attribute.newBuilder().setName("quantity")
              .setValue(dev.entanglement.proto.v1.Value.newBuilder().setInteger(1)))
          .build();
      dev.entanglement.hibernate.internal.signing.NodeSigner blueSigner =
          new dev.entanglement.hibernate.internal.signing.NodeSigner("blue", blueKey.privateKey(), blueKey.chain());
      List<dev.entanglement.proto.v1.UpdateRequest> attempts = List.of(
          forged, // "I am staff"
          forged.toBuilder().setRequestId(2).addVia("staff").build(), // "staff sent me this"
          blueSigner.sign(forged.toBuilder().setRequestId(3).addVia("staff").build()).toBuilder().clearSigner().build());
      for (dev.entanglement.proto.v1.UpdateRequest attempt : attempts) {
        modified.send(dev.entanglement.proto.v1.Envelope.newBuilder().setUpdateRequest(attempt).build());
      }
      List<dev.entanglement.proto.v1.RequestOutcome> outcomes = await().atMost(Duration.ofSeconds(10))
          .until(() -> modified.received().stream().filter(dev.entanglement.proto.v1.Envelope::hasRequestOutcome)
              .map(dev.entanglement.proto.v1.Envelope::getRequestOutcome).toList(), list -> list.size() == 3);
      assertThat(outcomes).extracting(dev.entanglement.proto.v1.RequestOutcome::getStatus)
          .containsOnly(dev.entanglement.proto.v1.RequestStatus.REFUSED);
      assertThat(outcomes).extracting(dev.entanglement.proto.v1.RequestOutcome::getReason).containsExactlyInAnyOrder(
          dev.entanglement.proto.v1.RejectReason.ORIGIN, dev.entanglement.proto.v1.RejectReason.SIGNATURE,
          dev.entanglement.proto.v1.RejectReason.SIGNATURE);
      assertThat(outcomes.stream().filter(o -> o.getRequestId() == 1).findFirst().orElseThrow().getMessage())
          .contains("refused a request from peer 'blue' claiming origin 'staff'");
      assertThat(outcomes.stream().filter(o -> o.getRequestId() == 2).findFirst().orElseThrow().getMessage())
          .contains("carries no signature");
      assertThat(outcomes.stream().filter(o -> o.getRequestId() == 3).findFirst().orElseThrow().getMessage())
          .contains("does not verify with the certificate of its origin 'staff'");
      assertThat(modified.isOpen()).as("the stream goes on").isTrue();

      PeerStatus fromBlue = range.status("blue");
      assertThat(fromBlue.rejectedHereByReason()).containsEntry(RefusalReason.ORIGIN, 1L)
          .containsEntry(RefusalReason.SIGNATURE, 2L);
      assertThat(log.warnings("Refused an update request from peer 'blue' (ORIGIN)")).hasSize(1);
      assertThat(log.warnings("Refused an update request from peer 'blue' (SIGNATURE)")).hasSize(1);
    }
    // red never heard of it: a request staff really makes still reaches red and is decided there
    Item real = new Item("red-vm-2", "registered by staff", 1);
    staff.entanglement().create(real, "red").get(20, TimeUnit.SECONDS);
    assertThat(codes(red)).containsExactly("red-vm-2");
  }

  private static long applied(TestNode node) {
    return node.entanglement().peers().stream().mapToLong(PeerStatus::changesAppliedHere).sum();
  }
}
