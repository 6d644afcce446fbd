package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import dev.entanglement.hibernate.internal.signing.NodeSigner;
import dev.entanglement.hibernate.internal.transport.TlsConfig;
import dev.entanglement.hibernate.testing.Certificates;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.tls.DevCertificates;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.OwnerCertificate;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import io.grpc.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Signed state with real nodes: every node has a certificate from one CA (so
 * {@code entanglement.signing} is {@code required} by default); owners sign, relays pass the
 * signatures on (also from their database, in a later catch-up), and a hostile peer speaking the
 * public wire contract with a certificate of that same CA can neither forge, alter, re-own nor
 * speak for another owner: each such change is rejected with SIGNATURE, counted, logged once, and
 * the stream goes on.
 */
class SignedStateIntegrationTest {
  @TempDir Path dir;
  private Certificates certificates;
  private LogCapture log;
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final AtomicLong requests = new AtomicLong(1000);
  /** The database of the nodes a test starts: H2, or what a parameterized test sets. */
  private Database database = Database.H2;

  @BeforeEach
  void start() {
    certificates = new Certificates(dir);
    log = LogCapture.start();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
    log.close();
  }

  private <T extends AutoCloseable> T track(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  /** A node listening in-process, with its certificate from the test CA (signing on by default). */
  private TestNode node(String name, String address, String peers) throws Exception {
    TestNode.Builder builder = TestNode.builder(name, database, Item.class).listenInProcess(address);
    if (peers != null) {
      builder.peers(peers);
    }
    return track(certificates.tls(builder, name, "signing", "signing").start());
  }

  /** The TLS material of a node name (certificate from the test CA), as a hostile peer would hold it. */
  private TlsConfig material(String name) throws Exception {
    Path nodeDir = certificates.node(name, "signing");
    return TlsConfig.read(name, nodeDir.resolve(DevCertificates.CERTIFICATE).toString(),
        nodeDir.resolve(DevCertificates.PRIVATE_KEY).toString(),
        certificates.ca("signing").resolve(DevCertificates.CERTIFICATE).toString(), null);
  }

  private static List<ByteString> der(TlsConfig tls) throws Exception {
    List<ByteString> chain = new ArrayList<>();
    for (var certificate : tls.chain()) {
      chain.add(ByteString.copyFrom(certificate.getEncoded()));
    }
    return chain;
  }

  /** A hostile peer: opens a stream to {@code address} as {@code name}, with a Hello that says it signs. */
  private RecordingPeer hostile(String address, String name, TlsConfig tls) throws Exception {
    RecordingPeer peer = track(RecordingPeer.dial(address));
    peer.request(100);
    peer.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName(name)
        .addCapabilities("signed-state").addAllCertificates(der(tls))).build());
    await().alias("node's Hello").atMost(Duration.ofSeconds(10)).until(() -> !peer.hellos().isEmpty());
    return peer;
  }

  private long send(RecordingPeer peer, List<OwnerCertificate> certificates, Change... changes) {
    long id = requests.incrementAndGet();
    peer.send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(id)
        .addAllCertificates(certificates).addAllChanges(List.of(changes))).build());
    return id;
  }

  private static Change renamed(Change change, String name) {
    Change.Builder altered = change.toBuilder().clearAttributes();
    for (Attribute attribute : change.getAttributesList()) {
      altered.addAttributes(attribute.getName().equals("name")
          ? attribute.toBuilder().setValue(Value.newBuilder().setText(name)).build() : attribute);
    }
    return altered.build();
  }

  private static long signatureRejections(TestNode node, String peer) {
    return node.status(peer).rejectedHereByReason().getOrDefault(RefusalReason.SIGNATURE, 0L);
  }

  /**
   * With signed state on, a relay's own withdrawal (its policy now denies the object downstream)
   * is taken by the peer, which cannot hold the owner's signature on it, and the owner's next
   * allowed state, signed, brings the object back.
   */
  @Test
  void aRelaysWithdrawal_isTakenWithSignedStateOn_andTheOwnersNextSignedStateRestoresIt() throws Exception {
    TestNode a = node("wa", "signed-wa-" + UUID.randomUUID(), null);
    String bAddress = "signed-wb-" + UUID.randomUUID();
    TestNode.Builder relay = TestNode.builder("wb", database, Item.class).listenInProcess(bAddress)
        .peers(a.entanglement().listenAddress().orElseThrow())
        .set(EntanglementSettings.POLICY, new dev.entanglement.hibernate.policy.Policy() {
          @Override
          public dev.entanglement.hibernate.policy.Decision send(dev.entanglement.hibernate.policy.Peer peer,
              dev.entanglement.hibernate.policy.ObjectRef object) {
            return dev.entanglement.hibernate.policy.Decision.denyIf(peer.name().equals("wc")
                && object.entity() instanceof Item item && item.getQuantity() > 100, "large stocks stay at the relay");
          }
        });
    TestNode b = track(certificates.tls(relay, "wb", "signing", "signing").start());
    TestNode c = node("wc", "signed-wc-" + UUID.randomUUID(), "inprocess:" + bAddress);
    Item item = new Item("SIGNED-W", "stock", 5);
    a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) != null);

    a.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(500));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) == null);
    assertThat(b.find(Item.class, item.getId()).getQuantity()).isEqualTo(500);
    assertThat(signatureRejections(c, "wb")).isZero();

    a.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(7));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) != null);
    assertThat(c.find(Item.class, item.getId()).getQuantity()).isEqualTo(7);
    assertThat(signatureRejections(c, "wb")).isZero();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void ownersSign_relaysPassTheSignaturesOn_alsoFromTheirDatabaseInALaterCatchUp(Database database) throws Exception {
    this.database = database;
    TestNode a = node("sa", "signed-a-" + UUID.randomUUID(), null);
    String bAddress = "signed-b-" + UUID.randomUUID();
    TestNode b = node("sb", bAddress, a.entanglement().listenAddress().orElseThrow());
    Item item = new Item("SIGNED-1", "signed by its owner", 1);
    a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, item.getId()) != null);
    assertThat(signatureRejections(b, "sa")).isZero();
    // the relay keeps the owner's signed change with its copy
    assertThat(b.sql("SELECT COUNT(*) FROM entanglement_object WHERE owner_node = 'sa' AND signed_change IS NOT NULL"))
        .isEqualTo(1L);

    // c joins later, through b only: its catch-up of a's object comes from b's database, still a's signature
    TestNode c = node("sc", "signed-c-" + UUID.randomUUID(), "inprocess:" + bAddress);
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) != null);
    assertThat(c.find(Item.class, item.getId()).getName()).isEqualTo("signed by its owner");
    assertThat(signatureRejections(c, "sb")).isZero();

    // and live changes relayed through b verify at c as well
    a.inTransaction(em -> em.find(Item.class, item.getId()).setName("changed by its owner"));
    await().atMost(Duration.ofSeconds(10)).until(() -> "changed by its owner".equals(c.find(Item.class, item.getId()).getName()));
    assertThat(signatureRejections(c, "sb")).isZero();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aHandOverThroughARelay_carriesTheSignedChain_andEveryReceiverAcceptsTheNewOwner(Database database) throws Exception {
    this.database = database;
    TestNode a = node("ta", "signed-ta-" + UUID.randomUUID(), null);
    String bAddress = "signed-tb-" + UUID.randomUUID();
    TestNode b = node("tb", bAddress, a.entanglement().listenAddress().orElseThrow());
    TestNode c = node("tc", "signed-tc-" + UUID.randomUUID(), b.entanglement().listenAddress().orElseThrow());
    Item item = new Item("HANDED-1", "to be handed over", 1);
    a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) != null);
    a.entanglement().transfer(Item.class, item.getId(), "tc").get(20, java.util.concurrent.TimeUnit.SECONDS);
    c.inTransaction(em -> em.find(Item.class, item.getId()).setName("now the new owner's"));
    for (TestNode node : List.of(a, b)) {
      await().alias("new owner's state at " + node.name()).atMost(Duration.ofSeconds(10))
          .until(() -> "now the new owner's".equals(node.find(Item.class, item.getId()).getName()));
    }
    assertThat(b.sql("SELECT owner_node FROM entanglement_object WHERE epoch = 1")).isEqualTo("tc");
    assertThat(signatureRejections(b, "tc") + signatureRejections(b, "ta") + signatureRejections(a, "tb")
        + signatureRejections(c, "tb")).isZero();

    // a node that joins later gets the new owner's state from the relay's database, with its chain
    TestNode d = node("td", "signed-td-" + UUID.randomUUID(), "inprocess:" + bAddress);
    await().atMost(Duration.ofSeconds(10)).until(() -> d.find(Item.class, item.getId()) != null
        && "now the new owner's".equals(d.find(Item.class, item.getId()).getName()));
    assertThat(signatureRejections(d, "tb")).isZero();
  }

  @Test
  void transitions_areSignedByTheirOrigin_verifiedAfterARelay_andOneInAnotherNodesNameIsIgnoredAndCounted()
      throws Exception {
    TestNode a = node("ra", "signed-ra-" + UUID.randomUUID(), null);
    String bAddress = "signed-rb-" + UUID.randomUUID();
    TestNode b = node("rb", bAddress, a.entanglement().listenAddress().orElseThrow());
    TestNode c = node("rc", "signed-rc-" + UUID.randomUUID(), "inprocess:" + bAddress);
    List<String> atC = new java.util.concurrent.CopyOnWriteArrayList<>();
    c.entanglement().addTransitionListener(event -> atC.add(event.origin() + " " + event.transitionId()));
    Item item = new Item("DRAGGED-1", "on the board", 1);
    a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) != null);

    a.entanglement().startTransition(Item.class, item.getId()).update(i -> i.setName("dragged by ra"));
    await().atMost(Duration.ofSeconds(10)).until(() -> atC.stream().anyMatch(e -> e.startsWith("ra ")));
    assertThat(signatureRejections(b, "ra") + signatureRejections(c, "rb")).isZero();

    // mallory, a peer of c, sends a transition in ra's name: c ignores it, counts and logs it
    RecordingPeer peer = hostile(c.entanglement().listenAddress().orElseThrow().substring("inprocess:".length()),
        "mallory", material("mallory"));
    peer.send(Envelope.newBuilder().setTransition(dev.entanglement.proto.v1.TransitionUpdate.newBuilder()
        .setOrigin("ra").setTransitionId(424242).setSequence(1).setEntity("Item")
        .setId(Value.newBuilder().setUuid(item.getId().toString())).setOwner("ra")
        .setPhase(dev.entanglement.proto.v1.TransitionPhase.PROVISIONAL)
        .addAttributes(Attribute.newBuilder().setName("name").setValue(Value.newBuilder().setText("forged drag"))))
        .build());
    await().atMost(Duration.ofSeconds(10)).until(() -> signatureRejections(c, "mallory") == 1);
    assertThat(atC).noneMatch(e -> e.endsWith(" 424242"));
    assertThat(log.warnings("Ignored a transition from peer 'mallory' in the name of 'ra'")).hasSize(1);
  }

  /** Who is online (an ephemeral object). */
  public record Presence(String user, String status) {}

  @Test
  void ephemeralObjects_areSignedByTheirOwner_andVerifiedAfterARelay_andTheirTimeToLiveMayShrinkOnTheWay() throws Exception {
    TestNode a = node("ea", "signed-ea-" + UUID.randomUUID(), null);
    String bAddress = "signed-eb-" + UUID.randomUUID();
    TestNode b = node("eb", bAddress, a.entanglement().listenAddress().orElseThrow());
    TestNode c = node("ec", "signed-ec-" + UUID.randomUUID(), b.entanglement().listenAddress().orElseThrow());
    for (TestNode node : List.of(a, b, c)) {
      node.entanglement().ephemeral(Presence.class, Duration.ofMinutes(5));
    }
    c.awaitConnected("eb");
    a.entanglement().ephemeral(Presence.class, Duration.ofMinutes(5)).put("ana", new Presence("ana", "online"));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.entanglement().ephemeral(Presence.class, Duration.ofMinutes(5))
        .get("ana").isPresent());
    assertThat(signatureRejections(b, "ea")).isZero();
    assertThat(signatureRejections(c, "eb")).isZero();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aRelayRestartedWhileTheOwnerIsAway_stillPassesOnItsCertificate_fromItsDatabase(Database database) throws Exception {
    this.database = database;
    TestNode a = node("pa", "signed-pa-" + UUID.randomUUID(), null);
    String bAddress = "signed-pb-" + UUID.randomUUID();
    TestNode b = node("pb", bAddress, a.entanglement().listenAddress().orElseThrow());
    Item item = new Item("KEPT-1", "kept by the relay", 1);
    a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, item.getId()) != null);
    await().atMost(Duration.ofSeconds(10)).until(() -> b.table("entanglement_certificate").size() == 1);
    a.close();
    TestNode restarted = track(b.restart());

    TestNode c = node("pc", "signed-pc-" + UUID.randomUUID(), "inprocess:" + bAddress);
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) != null);
    assertThat(signatureRejections(c, "pb")).isZero();
    assertThat(restarted.entanglement().peers()).noneMatch(p -> "pa".equals(p.name()));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aHostilePeer_cannotForgeAlterReownOrSpeakForAnotherOwner_eachRefusedWithSignature_countedAndLoggedOnce(Database database) throws Exception {
    this.database = database;
    String aAddress = "signed-owner-" + UUID.randomUUID();
    TestNode a = node("ha", aAddress, null);
    Item item = new Item("GENUINE-1", "as its owner wrote it", 1);
    a.inTransaction(em -> em.persist(item));
    TestNode c = node("hc", "signed-victim-" + UUID.randomUUID(), null);

    // mallory holds a certificate of the same CA, and receives a's genuine signed change
    TlsConfig mallory = material("mallory");
    RecordingPeer fromA = hostile(aAddress, "mallory", mallory);
    Change genuine = await().atMost(Duration.ofSeconds(10))
        .until(() -> fromA.changes().stream().filter(ch -> ch.getOwner().equals("ha")).findFirst(),
            java.util.Optional::isPresent).orElseThrow();
    assertThat(genuine.getSignature().isEmpty()).as("the owner signed it").isFalse();
    OwnerCertificate aCertificate = OwnerCertificate.newBuilder().setOwner("ha").addAllChain(der(material("ha"))).build();

    String cAddress = c.entanglement().listenAddress().orElseThrow();
    RecordingPeer toC = hostile(cAddress.substring(cAddress.indexOf(':') + 1), "mallory", mallory);
    NodeSigner malloryKey = new NodeSigner("mallory", mallory.privateKey(), mallory.chain());
    Change altered = renamed(genuine, "altered by mallory");
    Change laterSerial = renamed(genuine, "a later state mallory made up").toBuilder().setSerial(genuine.getSerial() + 5).build();
    Change reowned = genuine.toBuilder().setOwner("mallory").setEpoch(genuine.getEpoch() + 1).build(); // a's signature
    Change reownedSigned = malloryKey.sign(genuine.toBuilder().setOwner("ha").setEpoch(genuine.getEpoch() + 1)
        .setId(Value.newBuilder().setUuid(UUID.randomUUID().toString())).build()); // signer mallory, owner ha
    Change unsigned = genuine.toBuilder().clearSignature().build();
    Change unknownOwner = genuine.toBuilder().setOwner("nobody-knows").build();
    // mallory raises the epoch of a's object under its own name and signs that: no hand-over of a's backs it
    Change seized = malloryKey.sign(genuine.toBuilder().setOwner("mallory").setEpoch(1).setSerial(1).build());
    long id = send(toC, List.of(aCertificate), altered, laterSerial, reowned, reownedSigned, unsigned, unknownOwner,
        seized);
    Ack ack = toC.awaitAck(id);
    assertThat(ack.getOutcomesList()).extracting(Outcome::getStatus).containsOnly(OutcomeStatus.REJECTED);
    assertThat(ack.getOutcomesList()).extracting(Outcome::getReason).containsOnly(RejectReason.SIGNATURE);
    assertThat(ack.getOutcomes(0).getMessage()).contains("does not verify").contains("'ha'");
    assertThat(ack.getOutcomes(3).getMessage()).contains("signed by 'mallory', not by its owner 'ha'");
    assertThat(ack.getOutcomes(4).getMessage()).contains("carries no signature").contains("entanglement.signing=required");
    assertThat(ack.getOutcomes(5).getMessage()).contains("no certificate of its owner 'nobody-knows'");
    assertThat(ack.getOutcomes(6).getMessage()).contains("needs the 1 signed hand-overs that lead to owner 'mallory'");
    assertThat(c.all(Item.class)).as("nothing forged was applied").isEmpty();

    // the stream goes on: the genuine change, passed on unchanged, is applied
    long next = send(toC, List.of(), genuine);
    assertThat(toC.awaitAck(next).getOutcomes(0).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(c.find(Item.class, item.getId()).getName()).isEqualTo("as its owner wrote it");
    assertThat(toC.isOpen()).isTrue();

    // with c holding a's object, mallory's own made-up history (a hand-over at epoch 0 it signed itself) is refused too
    Change fakeHandover = malloryKey.sign(genuine.toBuilder().setOwner("mallory").setHandoverTo("mallory").build());
    Change history = malloryKey.sign(genuine.toBuilder().setOwner("mallory").setEpoch(1).setSerial(2)
        .addHandovers(fakeHandover).build());
    long third = send(toC, List.of(), history);
    Outcome refused = toC.awaitAck(third).getOutcomes(0);
    assertThat(refused.getReason()).isEqualTo(RejectReason.SIGNATURE);
    assertThat(refused.getMessage()).contains("owned by 'ha' at epoch 0").contains("is by 'mallory'");
    assertThat(c.find(Item.class, item.getId()).getName()).isEqualTo("as its owner wrote it");

    // a replayed old signed state changes nothing once a newer one is held
    a.inTransaction(em -> em.find(Item.class, item.getId()).setName("its owner's newer state"));
    Change newer = await().atMost(Duration.ofSeconds(10))
        .until(() -> fromA.changes().stream().filter(ch -> ch.getOwner().equals("ha") && ch.getSerial() > genuine.getSerial())
            .findFirst(), java.util.Optional::isPresent).orElseThrow();
    assertThat(toC.awaitAck(send(toC, List.of(), newer)).getOutcomes(0).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(toC.awaitAck(send(toC, List.of(), genuine)).getOutcomes(0).getStatus())
        .isEqualTo(OutcomeStatus.ALREADY_CURRENT);
    assertThat(c.find(Item.class, item.getId()).getName()).isEqualTo("its owner's newer state");

    // counted per peer and reason, logged once per kind and peer
    assertThat(signatureRejections(c, "mallory")).isEqualTo(8);
    assertThat(log.warnings("Rejected a change from peer 'mallory'", "(SIGNATURE)")).hasSize(1);
  }

  @Test
  void aPeerThatDoesNotSign_isRefusedAtTheHello_namingTheSetting() throws Exception {
    String address = "signed-strict-" + UUID.randomUUID();
    TestNode a = node("sa2", address, null);
    RecordingPeer plain = track(RecordingPeer.dial(address));
    plain.request(10);
    plain.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName("plain")).build());
    Status status = plain.awaitEnd();
    assertThat(status.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(status.getDescription()).contains("node 'sa2' requires signed state (entanglement.signing=required)")
        .contains("peer 'plain' does not sign");
    assertThat(a.entanglement().peers()).noneMatch(p -> "plain".equals(p.name()) && p.state() == PeerStatus.State.STREAMING);
  }

  @Test
  void mixedNetwork_aNodeWithSigningOff_isRefusedByOneThatRequiresIt_andTwoNodesWithItOffReplicateUnsigned()
      throws Exception {
    String address = "signed-mixed-" + UUID.randomUUID();
    TestNode strict = node("ms", address, null);
    TestNode lax = track(certificates.tls(TestNode.builder("ml", database, Item.class)
        .peers("inprocess:" + address).set(EntanglementSettings.SIGNING, "off")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50"), "ml", "signing", "signing").start());
    await().atMost(Duration.ofSeconds(10)).until(() -> !log.warnings("Node 'ms' requires signed state", "peer 'ml'")
        .isEmpty());
    assertThat(strict.entanglement().peers()).noneMatch(p -> "ml".equals(p.name()) && p.state() == PeerStatus.State.STREAMING);

    String laxAddress = "signed-lax-" + UUID.randomUUID();
    TestNode other = track(certificates.tls(TestNode.builder("mo", database, Item.class).listenInProcess(laxAddress)
        .set(EntanglementSettings.SIGNING, "off"), "mo", "signing", "signing").start());
    TestNode second = track(certificates.tls(TestNode.builder("mp", database, Item.class)
        .peers("inprocess:" + laxAddress).set(EntanglementSettings.SIGNING, "off"), "mp", "signing", "signing").start());
    Item item = new Item("UNSIGNED-1", "signing off on both", 1);
    other.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> second.find(Item.class, item.getId()) != null);
    lax.inTransaction(em -> em.persist(new Item("LAX-1", "the refused node keeps running", 1)));
    assertThat(lax.all(Item.class)).hasSize(1);
    assertThat(strict.all(Item.class)).as("nothing crossed").isEmpty();
  }

  @Test
  void aPeerWhoseCertificateIsNotTrusted_isRefusedAtTheHello() throws Exception {
    String address = "signed-trust-" + UUID.randomUUID();
    node("sa3", address, null);
    Path rogueDir = certificates.node("rogue", "other-ca");
    TlsConfig rogue = TlsConfig.read("rogue", rogueDir.resolve(DevCertificates.CERTIFICATE).toString(),
        rogueDir.resolve(DevCertificates.PRIVATE_KEY).toString(),
        certificates.ca("other-ca").resolve(DevCertificates.CERTIFICATE).toString(), null);
    RecordingPeer peer = track(RecordingPeer.dial(address));
    peer.request(10);
    peer.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName("rogue")
        .addCapabilities("signed-state").addAllCertificates(der(rogue))).build());
    Status status = peer.awaitEnd();
    assertThat(status.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(status.getDescription()).contains("cannot verify the signed state of peer 'rogue'")
        .contains("not trusted here");
  }
}
