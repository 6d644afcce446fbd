package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import dev.entanglement.hibernate.testing.Certificates;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.ExercisePolicy;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.TlsRecordingRelay;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.tls.DevCertificates;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.OwnerCertificate;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.OwnerRemoved;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.RequestStatus;
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.TransitionPhase;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import dev.entanglement.proto.v1.Value;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 17's hostile-node test. The exercise (red and blue each share with staff, never with each
 * other, all through the range gateway; every node runs {@link ExercisePolicy}) over mutual TLS on
 * loopback, signing required. Red dials range through a {@link TlsRecordingRelay}, so the test
 * reads every frame red receives. Then blue is replaced by a hostile node built only from the
 * public wire contract (the generated stubs of entanglement-proto, gRPC over Netty with TLS) and
 * blue's genuine certificate and key: it signs with the key itself, following the canonical form
 * the contract describes, and tries every forgery issue 17 names against range.
 *
 * <p>Invariants: every forgery is refused with its reason (in the Ack, the request's outcome, or,
 * for what has no answer on the wire, the refusal kind), counted per peer and reason and in the
 * meters, and logged once per kind; red never holds a blue object or blue's name, on disk or on
 * the wire; range, staff and red keep running with their data intact, and converge afterwards
 * with the honest blue back.
 */
class HostileNodeIntegrationTest {
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final AtomicLong batchIds = new AtomicLong(5000);
  @TempDir Path dir;
  private Certificates certificates;
  private LogCapture log;

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
    if (log != null) {
      log.close();
    }
  }

  private <T extends AutoCloseable> T track(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  private TestNode.Builder node(Database database, String name, String dial) throws Exception {
    TestNode.Builder builder = TestNode.builder(name, database, Item.class)
        .set(EntanglementSettings.POLICY, ExercisePolicy.class.getName())
        .set(EntanglementSettings.REQUEST_LIFETIME, "15s")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50");
    if (dial == null) {
      builder.set(EntanglementSettings.LISTEN, "127.0.0.1:0");
    } else {
      builder.peers(dial);
    }
    return certificates.tls(builder, name, "exercise", "exercise");
  }

  private static Item persist(TestNode node, String code) {
    Item item = new Item(code, code, 1);
    node.inTransaction(em -> em.persist(item));
    return item;
  }

  private static void awaitName(TestNode node, UUID id, String name) {
    await().alias(node.name() + " holds " + name).atMost(Duration.ofSeconds(30)).until(() -> {
      Item item = node.find(Item.class, id);
      return item != null && item.getName().equals(name);
    });
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aHostileBlueNode_forgesEverything_eachRefusedCountedLoggedOnce_redLearnsNothing_andTheExerciseGoesOn(
      Database database) throws Exception {
    certificates = new Certificates(dir);
    log = LogCapture.start();
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    TestNode range = track(node(database, "range", null).set(EntanglementSettings.METRICS_REGISTRY, meters).start());
    String rangeAddress = range.entanglement().listenAddress().orElseThrow();
    Path ca = certificates.ca("exercise").resolve(DevCertificates.CERTIFICATE);
    TlsRecordingRelay relay = track(TlsRecordingRelay.start(rangeAddress, certificates.node("range", "exercise"),
        certificates.node("red", "exercise"), ca));
    TestNode staff = track(node(database, "staff", rangeAddress).start());
    TestNode red = track(node(database, "red", relay.address()).start());
    TestNode blue = track(node(database, "blue", rangeAddress).start());
    for (String name : List.of("staff", "red", "blue")) {
      range.awaitConnected(name);
    }

    Item staffItem = persist(staff, "staff-1");
    Item redItem = persist(red, "red-1");
    List<UUID> blueIds = List.of(persist(blue, "blue-1").getId(), persist(blue, "blue-2").getId());
    awaitName(red, staffItem.getId(), "staff-1");
    awaitName(staff, redItem.getId(), "red-1");
    for (UUID id : blueIds) {
      await().atMost(Duration.ofSeconds(30)).until(() -> staff.find(Item.class, id) != null);
    }
    range.awaitCaughtUp("red");

    // blue is replaced by a hostile node with blue's genuine certificate and key
    blue.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> range.status("blue") == null);
    Path blueDir = certificates.node("blue", "exercise");
    WireSigner blueKey = new WireSigner(blueDir);
    RecordingPeer hostile = track(RecordingPeer.dialTls(rangeAddress, blueDir, ca));
    hostile.request(1000);
    hostile.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName("blue")
        .addCapabilities("signed-state").addAllCertificates(blueKey.chain)).build());
    await().atMost(Duration.ofSeconds(10)).until(() -> !hostile.hellos().isEmpty());
    Change old = awaitChange(hostile, staffItem.getId(), 0);
    staff.inTransaction(em -> em.find(Item.class, staffItem.getId()).setName("staff-1 v2"));
    Change newer = awaitChange(hostile, staffItem.getId(), old.getSerial());
    awaitName(range, staffItem.getId(), "staff-1 v2");
    awaitName(red, staffItem.getId(), "staff-1 v2");
    acknowledgeAll(hostile);
    assertThat(old.getSignature().isEmpty()).as("relayed with staff's signature").isFalse();
    long stored = range.all(Item.class).size();
    Object positionsBefore = range.table("entanglement_owner_position");

    // 1. altered, re-owned, raised, made-up and unknown-owner states, and an unsigned withdrawal
    UUID madeUp = UUID.randomUUID();
    Change altered = renamed(newer, "altered by blue");
    Change raised = newer.toBuilder().setEpoch(1).build(); // staff's own signature, epoch raised
    Change seized = blueKey.sign(strip(newer).setOwner("blue").setEpoch(1).setSerial(1).build());
    Change claimsStaff = blueKey.sign(fresh(newer, madeUp, "staff-made-up").build()); // as if staff signed it
    Change claimsRed = blueKey.sign(fresh(newer, UUID.randomUUID(), "red-made-up").setOwner("red").setSigner("blue").build());
    Change ghost = blueKey.sign(fresh(newer, UUID.randomUUID(), "ghost-1").setOwner("ghost").build());
    Change withdrawal = Change.newBuilder().setEntity("Item").setId(newer.getId()).setOwner("staff")
        .setSerial(newer.getSerial() + 1).setOperation(Operation.WITHDRAW).build();
    OwnerCertificate ghostCertificate = OwnerCertificate.newBuilder().setOwner("ghost").addAllChain(blueKey.chain).build();
    long first = batchIds.incrementAndGet();
    hostile.send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(first)
        .addCertificates(ghostCertificate)
        .addAllChanges(List.of(altered, raised, seized, claimsStaff, claimsRed, ghost, withdrawal))
        // 2. forged positions: far beyond what the owners have, and of an owner nobody knows
        .addPositions(position("staff", 1_000_000)).addPositions(position("red", 1_000_000))
        .addPositions(position("ghost", 5))).build());
    Ack ack = hostile.awaitAck(first);
    assertThat(ack.getOutcomesList()).extracting(Outcome::getStatus).containsOnly(OutcomeStatus.REJECTED);
    assertThat(ack.getOutcomesList()).extracting(Outcome::getReason).containsOnly(RejectReason.SIGNATURE);
    assertThat(ack.getOutcomes(0).getMessage()).contains("does not verify");
    assertThat(ack.getOutcomes(2).getMessage()).contains("needs the 1 signed hand-overs");
    assertThat(ack.getOutcomes(4).getMessage()).contains("signed by 'blue', not by its owner 'red'");
    assertThat(ack.getOutcomes(5).getMessage()).contains("'ghost'");
    assertThat(ack.getOutcomes(6).getMessage()).contains("does not speak for it")
        .contains("owner 'staff' is connected to node 'range' directly");

    // 3. sweeps of owners blue does not speak for: staff's objects blue "did not send", red's too
    for (String owner : List.of("staff", "red")) {
      hostile.send(Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder()
          .setKind(SyncMarker.Kind.FULL_SYNC_START).setOwner(owner)).build());
      hostile.send(Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder().setKind(SyncMarker.Kind.FULL_SYNC_END)
          .setOwner(owner).setSerial(1_000_000).setSweep(true)).build());
    }
    // 4. owner removals in blue's word
    for (String owner : List.of("staff", "red")) {
      hostile.send(Envelope.newBuilder().setOwnerRemoved(OwnerRemoved.newBuilder().setOwner(owner).setRemovedBy("blue"))
          .build());
    }
    // 5. a replayed old signed state of staff's changes nothing (the newer one is held); its answer
    // also tells the markers before it were applied (they go in order with the batches)
    long replay = batchIds.incrementAndGet();
    hostile.send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(replay).addChanges(old)).build());
    assertThat(hostile.awaitAck(replay).getOutcomes(0).getStatus()).isEqualTo(OutcomeStatus.ALREADY_CURRENT);
    assertThat(range.find(Item.class, staffItem.getId())).as("staff's object at range after the sweeps").isNotNull();
    assertThat(range.table("entanglement_owner_position")).as("range's positions").isEqualTo(positionsBefore);

    // 6. forged origins: a request to create a red machine as staff, and a drag in staff's name
    hostile.send(Envelope.newBuilder().setUpdateRequest(UpdateRequest.newBuilder().setRequestId(1).setOrigin("staff")
        .setKind(RequestKind.CREATE).setEntity("Item").setId(Value.newBuilder().setUuid(UUID.randomUUID().toString()))
        .setOwner("red").setRequestKey(UUID.randomUUID().toString())
        .addAllAttributes(fresh(newer, madeUp, "red-backdoor").getAttributesList())).build());
    hostile.send(Envelope.newBuilder().setTransition(TransitionUpdate.newBuilder().setOrigin("staff").setTransitionId(7)
        .setSequence(1).setEntity("Item").setId(newer.getId()).setOwner("staff").setBaseSerial(newer.getSerial())
        .setPhase(TransitionPhase.PROVISIONAL).addAttributes(attribute("name", "dragged by 'staff'"))).build());

    RequestOutcome refused = await().atMost(Duration.ofSeconds(10)).until(() -> hostile.received().stream()
        .filter(Envelope::hasRequestOutcome).map(Envelope::getRequestOutcome).findFirst(), Optional::isPresent).orElseThrow();
    assertThat(refused.getStatus()).isEqualTo(RequestStatus.REFUSED);
    assertThat(refused.getReason()).isEqualTo(RejectReason.ORIGIN);

    // counted per peer and reason, and in the meters
    Map<RefusalReason, Long> expected = Map.of(RefusalReason.SIGNATURE, 8L, RefusalReason.ORIGIN, 1L,
        RefusalReason.NOT_OWNER, 7L); // NOT_OWNER: 3 positions, 2 sweeps, 2 removals
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(range.status("blue").rejectedHereByReason())
        .containsAllEntriesOf(expected));
    for (var entry : expected.entrySet()) {
      assertThat(meters.find("entanglement.peer.rejections").tags("peer", "blue", "side", "here", "reason",
          entry.getKey().name()).counter().count()).as("meter of %s", entry.getKey()).isEqualTo(entry.getValue().doubleValue());
    }
    // logged once per kind
    assertThat(log.warnings("Rejected a change from peer 'blue'", "(SIGNATURE)")).hasSize(1);
    assertThat(log.warnings("Refused an update request from peer 'blue' (ORIGIN)")).hasSize(1);
    assertThat(log.warnings("Ignored a transition from peer 'blue' in the name of 'staff'")).hasSize(1);
    assertThat(log.warnings("Refused a full synchronization of owner", "from peer 'blue' (NOT_OWNER)")).hasSize(1);
    assertThat(log.warnings("Refused an owner removal of owner", "from peer 'blue' (NOT_OWNER)")).hasSize(1);
    assertThat(log.warnings("Refused a position of owner", "from peer 'blue' (NOT_OWNER)")).hasSize(1);

    // nothing forged took effect anywhere; the honest streams are still up
    for (TestNode node : List.of(range, staff, red)) {
      assertThat(node.find(Item.class, staffItem.getId()).getName()).as("staff's object at " + node.name())
          .isEqualTo("staff-1 v2");
      assertThat(node.find(Item.class, redItem.getId())).as("red's object at " + node.name()).isNotNull();
      assertThat(node.find(Item.class, madeUp)).isNull();
    }
    assertThat(range.all(Item.class)).hasSize((int) stored);
    assertThat(range.table("entanglement_owner_position")).isEqualTo(positionsBefore);
    assertThat(range.status("staff")).isNotNull();
    assertThat(range.status("red")).isNotNull();
    assertThat(hostile.isOpen()).as("the hostile stream itself goes on").isTrue();

    // the honest blue comes back: everyone converges, and red still learns nothing of blue
    hostile.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> range.status("blue") == null);
    TestNode back = track(blue.again().start());
    range.awaitConnected("blue");
    back.inTransaction(em -> em.find(Item.class, blueIds.get(0)).setName("blue-1 after the attack"));
    staff.inTransaction(em -> em.find(Item.class, staffItem.getId()).setName("staff-1 v3"));
    Item redNext = persist(red, "red-2");
    awaitName(staff, blueIds.get(0), "blue-1 after the attack");
    awaitName(red, staffItem.getId(), "staff-1 v3");
    awaitName(back, staffItem.getId(), "staff-1 v3");
    awaitName(staff, redNext.getId(), "red-2");
    range.awaitCaughtUp("red");
    assertThat(red.all(Item.class)).extracting(Item::getCode).containsExactlyInAnyOrder("staff-1", "red-1", "red-2");

    List<String> leaks = new ArrayList<>();
    for (Envelope frame : relay.toDialer()) {
      String text = frame.toString() + frame.toByteString().toStringUtf8();
      if (text.contains("blue") || text.contains("ghost") || blueIds.stream().anyMatch(id -> text.contains(id.toString()))) {
        leaks.add(frame.getBodyCase() + ": " + frame.toString().replace('\n', ' '));
      }
    }
    assertThat(relay.toDialer()).as("frames red received").isNotEmpty();
    assertThat(leaks).as("frames red received naming blue or carrying a blue id").isEmpty();
    List<String> onDisk = new ArrayList<>();
    @SuppressWarnings("unchecked")
    List<Object> tables = (List<Object>) red.read(em -> em.createNativeQuery(
        "SELECT table_name FROM information_schema.tables WHERE (LOWER(table_name) LIKE 'entanglement%' "
            + "OR LOWER(table_name) = 'item')"
            // MariaDB's catalog lists every database of the server: the other nodes' too
            + (database == Database.MARIADB ? " AND table_schema = DATABASE()" : "")).getResultList());
    assertThat(tables).as("red's tables").hasSizeGreaterThan(3);
    for (Object table : tables) {
      for (String row : red.table(database == Database.MARIADB ? "`" + table + "`" : "\"" + table + "\"")) {
        if (row.contains("blue") || row.contains("ghost") || blueIds.stream().anyMatch(id -> row.contains(id.toString()))) {
          onDisk.add(table + ": " + row);
        }
      }
    }
    assertThat(onDisk).as("rows in red's database naming blue or holding a blue object").isEmpty();
  }

  // ---- the hostile node's tools: only the wire contract and its own key ------------------------

  private static Change awaitChange(RecordingPeer peer, UUID id, long after) {
    return await().alias("a change of " + id + " after serial " + after).atMost(Duration.ofSeconds(20))
        .until(() -> peer.changes().stream().filter(c -> c.getId().getUuid().equals(id.toString())
            && c.getSerial() > after).findFirst(), Optional::isPresent).orElseThrow();
  }

  /** Answers every batch received so far as applied, as an honest peer would. */
  private static void acknowledgeAll(RecordingPeer peer) {
    for (Envelope envelope : peer.received()) {
      if (envelope.hasChanges()) {
        Ack.Builder ack = Ack.newBuilder().setRequestId(envelope.getChanges().getRequestId());
        for (int i = 0; i < envelope.getChanges().getChangesCount(); i++) {
          ack.addOutcomes(Outcome.newBuilder().setIndex(i).setStatus(OutcomeStatus.APPLIED));
        }
        peer.send(Envelope.newBuilder().setAck(ack).build());
      }
    }
  }

  private static OwnerPosition position(String owner, long serial) {
    return OwnerPosition.newBuilder().setOwner(owner).setSerial(serial).build();
  }

  private static Attribute attribute(String name, String text) {
    return Attribute.newBuilder().setName(name).setValue(Value.newBuilder().setText(text)).build();
  }

  private static Change renamed(Change change, String name) {
    Change.Builder altered = change.toBuilder().clearAttributes();
    for (Attribute attribute : change.getAttributesList()) {
      altered.addAttributes(attribute.getName().equals("name") ? attribute("name", name) : attribute);
    }
    return altered.build();
  }

  /** The change without its signature and the fields that go with it. */
  private static Change.Builder strip(Change change) {
    return change.toBuilder().clearSignature().clearSignatureLeaf().clearSignatureLeaves().clearSignaturePath()
        .clearHandovers();
  }

  /** A made-up new object shaped like {@code template}: another id and code. */
  private static Change.Builder fresh(Change template, UUID id, String code) {
    Change.Builder made = strip(template).setId(Value.newBuilder().setUuid(id.toString())).setSerial(1).clearAttributes();
    for (Attribute attribute : template.getAttributesList()) {
      made.addAttributes(switch (attribute.getName()) {
        case "code" -> attribute("code", code);
        case "name" -> attribute("name", code);
        default -> attribute;
      });
    }
    return made;
  }

  /**
   * Signs as the wire contract says (Change.signature): the label, then the deterministic
   * serialization with the signature fields, ttl_ms and handovers cleared; EC keys sign
   * SHA256withECDSA. Built from the PEM files alone, as a third-party node would.
   */
  private static final class WireSigner {
    final List<ByteString> chain = new ArrayList<>();
    final PrivateKey key;

    WireSigner(Path nodeDir) throws Exception {
      try (InputStream in = Files.newInputStream(nodeDir.resolve(DevCertificates.CERTIFICATE))) {
        for (Certificate certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
          chain.add(ByteString.copyFrom(certificate.getEncoded()));
        }
      }
      String pem = Files.readString(nodeDir.resolve(DevCertificates.PRIVATE_KEY));
      byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
      key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
    }

    Change sign(Change change) throws Exception {
      Change unsigned = strip(change).clearTtlMs().build();
      Signature signature = Signature.getInstance("SHA256withECDSA");
      signature.initSign(key);
      signature.update(canonical("entanglement.v1.Change\n", unsigned));
      return change.toBuilder().setSignature(ByteString.copyFrom(signature.sign())).build();
    }

    private static byte[] canonical(String label, MessageLite message) throws Exception {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      out.write(label.getBytes(StandardCharsets.UTF_8));
      CodedOutputStream coded = CodedOutputStream.newInstance(out);
      coded.useDeterministicSerialization();
      message.writeTo(coded);
      coded.flush();
      return out.toByteArray();
    }
  }
}
