package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Certificates;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.NodePair;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.tls.DevCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutual TLS over Netty on loopback: a node's identity is its certificate's fingerprint, peers are
 * trusted by CA or by pinned fingerprint, the name in the Hello must be the certificate's, and
 * every refusal is one WARN line at each end (naming the other end's address and the reason),
 * leaves both nodes running and redialing, and lets nothing across.
 *
 * <p>Node names differ between tests: repeats of a refusal are logged quietly for a minute, per
 * node and reason, and the tests share one JVM.
 */
class MutualTlsIntegrationTest {
  @TempDir Path dir;
  private Certificates certificates;
  private LogCapture log;
  private final List<AutoCloseable> closeables = new ArrayList<>();

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

  private TestNode.Builder listening(String name) {
    return TestNode.builder(name, Database.H2, Item.class).set(EntanglementSettings.LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50").set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200");
  }

  private TestNode.Builder dialing(String name, TestNode target) {
    return TestNode.builder(name, Database.H2, Item.class).peers(address(target))
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50").set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200");
  }

  private static String address(TestNode node) {
    return node.entanglement().listenAddress().orElseThrow();
  }

  private static PeerIdentity identity(TestNode node, String peer) {
    return node.status(peer).identity();
  }

  /** Records the peers policies see, with their fingerprints. */
  static final class SeenPeers implements Policy {
    final Map<String, String> fingerprints = new ConcurrentHashMap<>();

    @Override
    public Decision send(Peer peer, ObjectRef object) {
      fingerprints.put(peer.name(), String.valueOf(peer.fingerprint()));
      return Decision.abstain();
    }
  }

  @Test
  void caTrust_replicates_andBothSidesKnowThePeersVerifiedIdentity() throws Exception {
    SeenPeers seenByA = new SeenPeers();
    SeenPeers seenByB = new SeenPeers();
    NodePair pair = track(NodePair.start(Database.H2, dev.entanglement.hibernate.testing.Transport.NETTY,
        a -> certificates(a, "a").set(EntanglementSettings.POLICY, seenByA),
        b -> certificates(b, "b").set(EntanglementSettings.POLICY, seenByB), Item.class));
    Item item = new Item("TLS1", "over tls", 1);
    pair.a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> pair.b.find(Item.class, item.getId()) != null);
    pair.b.inTransaction(em -> em.persist(new Item("TLS2", "back", 2)));
    await().atMost(Duration.ofSeconds(10)).until(() -> pair.a.all(Item.class).size() == 2);

    PeerIdentity bAtA = identity(pair.a, "b");
    PeerIdentity aAtB = identity(pair.b, "a");
    assertThat(bAtA.fingerprint()).isEqualTo(certificates.fingerprint("b", "main"));
    assertThat(aAtB.fingerprint()).isEqualTo(certificates.fingerprint("a", "main"));
    assertThat(bAtA.verified()).isTrue();
    assertThat(bAtA.name()).isEqualTo("b");
    assertThat(bAtA.subject()).isEqualTo("CN=b");
    assertThat(aAtB.subject()).isEqualTo("CN=a");
    assertThat(seenByA.fingerprints).containsEntry("b", certificates.fingerprint("b", "main"));
    assertThat(seenByB.fingerprints).containsEntry("a", certificates.fingerprint("a", "main"));
  }

  private TestNode.Builder certificates(TestNode.Builder builder, String node) {
    try {
      return certificates.tls(builder.set(EntanglementSettings.PLAINTEXT, "false"), node, "main", "main");
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void nodePairFixture_overMutualTls() {
    try (NodePair pair = NodePair.startTls(Database.H2, certificates, Item.class)) {
      pair.a.inTransaction(em -> em.persist(new Item("FIX", "fixture", 1)));
      await().atMost(Duration.ofSeconds(10)).until(() -> pair.b.all(Item.class).size() == 1);
      assertThat(identity(pair.b, "a").fingerprint()).isEqualTo(certificates.fingerprint("a", "main"));
    }
  }

  @Test
  void fingerprintTrust_alone_replicates() throws Exception {
    certificates.node("fa", "other");
    certificates.node("fb", "other");
    TestNode a = track(certificates.tls(listening("fa"), "fa", "other", null)
        .set(EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, certificates.fingerprint("fb", "other")).start());
    String colons = certificates.fingerprint("fa", "other").toUpperCase().replaceAll("(..)(?!$)", "$1:");
    TestNode b = track(certificates.tls(dialing("fb", a), "fb", "other", null)
        .set(EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, colons).start());
    b.awaitConnected("fa");
    a.inTransaction(em -> em.persist(new Item("FP", "pinned", 1)));
    await().atMost(Duration.ofSeconds(10)).until(() -> b.all(Item.class).size() == 1);
    a.awaitConnected("fb");
    assertThat(identity(a, "fb").fingerprint()).isEqualTo(certificates.fingerprint("fb", "other"));
    assertThat(identity(b, "fa").fingerprint()).isEqualTo(certificates.fingerprint("fa", "other"));
  }

  @Test
  void unknownCertificate_isRefused_withOneWarningAtEachEnd_andACorrectPeerStillConnects() throws Exception {
    TestNode a = track(certificates.tls(listening("ua"), "ua", "main", "main").start());
    a.inTransaction(em -> em.persist(new Item("SECRET", "for trusted peers", 1)));
    // signed by a CA that ua does not trust; it trusts ua's CA
    TestNode stranger = track(certificates.tls(dialing("ustranger", a), "ustranger", "rogue", "main").start());
    String fingerprint = certificates.fingerprint("ustranger", "rogue");

    awaitRedials("ustranger", address(a), 3);
    assertThat(log.warnings("Node 'ua' refused the connection from 127.0.0.1:", "subject CN=ustranger",
        fingerprint, "is not trusted by node 'ua'", "not signed by a CA of entanglement.tls.trust")).hasSize(1);
    assertThat(log.warnings("Node 'ustranger' could not open its stream to " + address(a),
        "the peer does not trust this node's certificate")).hasSize(1);
    assertNeverConnected(a, stranger);

    TestNode friend = track(certificates.tls(dialing("ufriend", a), "ufriend", "main", "main").start());
    friend.awaitConnected("ua");
    await().atMost(Duration.ofSeconds(10)).until(() -> friend.all(Item.class).size() == 1);
    assertThat(stranger.all(Item.class)).as("nothing crossed").isEmpty();
    assertStillRunning(stranger);
  }

  @Test
  void unknownCertificate_ofTheListeningNode_isRefusedByTheDialingNode() throws Exception {
    // the listening node's certificate is signed by a CA the dialing node does not trust
    TestNode a = track(certificates.tls(listening("ra"), "ra", "rogue", "main").start());
    a.inTransaction(em -> em.persist(new Item("SECRET", "from an untrusted node", 1)));
    TestNode b = track(certificates.tls(dialing("rb", a), "rb", "main", "main").start());

    awaitRedials("rb", address(a), 3);
    assertThat(log.warnings("Node 'rb' could not open its stream to " + address(a), "TLS handshake failed: the "
        + "certificate (subject CN=ra, SHA-256 fingerprint " + certificates.fingerprint("ra", "rogue")
        + ") is not trusted by node 'rb': it is not signed by a CA of entanglement.tls.trust")).hasSize(1);
    assertThat(log.warnings("Node 'ra' could not complete the TLS handshake with 127.0.0.1:",
        "the peer does not trust this node's certificate")).hasSize(1);
    assertNeverConnected(a, b);
    assertThat(b.all(Item.class)).as("nothing crossed").isEmpty();
    assertStillRunning(a);
  }

  @Test
  void wrongCertificate_aTrustedCertificateUnderAnotherName_isRefused() throws Exception {
    TestNode a = track(certificates.tls(listening("wa"), "wa", "main", "main").start());
    a.inTransaction(em -> em.persist(new Item("SECRET", "for wc only", 1)));
    // node "mallory" presents wc's certificate (valid, trusted CA) but says it is mallory
    Path wc = certificates.node("wc", "main");
    TestNode mallory = track(dialing("mallory", a)
        .set(EntanglementSettings.TLS_CERTIFICATE, wc.resolve(DevCertificates.CERTIFICATE).toString())
        .set(EntanglementSettings.TLS_PRIVATE_KEY, wc.resolve(DevCertificates.PRIVATE_KEY).toString())
        .set(EntanglementSettings.TLS_TRUST, certificates.ca("main").resolve(DevCertificates.CERTIFICATE).toString())
        .start());

    awaitRedials("mallory", address(a), 3);
    String names = ": it introduced itself as 'mallory', but its certificate (subject CN=wc, SHA-256 fingerprint "
        + certificates.fingerprint("wc", "main") + ") is issued to [wc, localhost]";
    assertThat(log.warnings("Node 'wa' refused the connection from 127.0.0.1:", names)).hasSize(1);
    assertThat(log.warnings("Node 'wa'")).as("one line at the refusing node").hasSize(1);
    assertThat(log.warnings("Node 'mallory' could not open its stream to " + address(a),
        "refused by the peer: node 'wa' refused the connection from 127.0.0.1:", names)).hasSize(1);
    assertNeverConnected(a, mallory);

    TestNode wcNode = track(certificates.tls(dialing("wc", a), "wc", "main", "main").start());
    wcNode.awaitConnected("wa");
    await().atMost(Duration.ofSeconds(10)).until(() -> wcNode.all(Item.class).size() == 1);
    assertThat(mallory.all(Item.class)).as("nothing crossed").isEmpty();
    assertStillRunning(mallory);
  }

  @Test
  void wrongCertificate_ofTheListeningNode_isRefusedByTheDialingNode() throws Exception {
    // the listening node presents iwc's certificate (trusted CA) but introduces itself as "impostor"
    Path iwc = certificates.node("iwc", "main");
    TestNode impostor = track(listening("impostor")
        .set(EntanglementSettings.TLS_CERTIFICATE, iwc.resolve(DevCertificates.CERTIFICATE).toString())
        .set(EntanglementSettings.TLS_PRIVATE_KEY, iwc.resolve(DevCertificates.PRIVATE_KEY).toString())
        .set(EntanglementSettings.TLS_TRUST, certificates.ca("main").resolve(DevCertificates.CERTIFICATE).toString())
        .start());
    impostor.inTransaction(em -> em.persist(new Item("FAKE", "from an impostor", 1)));
    TestNode b = track(certificates.tls(dialing("ib", impostor), "ib", "main", "main").start());

    awaitRedials("ib", address(impostor), 3);
    assertThat(log.warnings("Node 'ib' refused the connection to " + address(impostor) + ": it introduced itself as "
        + "'impostor', but its certificate (subject CN=iwc, SHA-256 fingerprint " + certificates.fingerprint("iwc", "main")
        + ") is issued to [iwc, localhost]")).hasSize(1);
    await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5)).until(() -> b.entanglement().connectedPeers().isEmpty());
    assertThat(b.all(Item.class)).as("nothing crossed").isEmpty();
  }

  @Test
  void plaintextPeer_againstATlsNode_isRefused() throws Exception {
    TestNode secure = track(certificates.tls(listening("psecure"), "psecure", "main", "main").start());
    secure.inTransaction(em -> em.persist(new Item("S", "secure only", 1)));
    TestNode plain = track(dialing("pplain", secure).set(EntanglementSettings.PLAINTEXT, "true").start());

    awaitRedials("pplain", address(secure), 3);
    assertThat(log.warnings("Node 'psecure' refused the connection from 127.0.0.1:",
        "it speaks plaintext HTTP/2", "but node 'psecure' requires mutual TLS")).hasSize(1);
    assertThat(log.warnings("Node 'pplain' could not open its stream to " + address(secure),
        "the peer requires mutual TLS, and this node dials in plaintext",
        "node 'psecure' requires mutual TLS; this connection is plaintext")).hasSize(1);
    assertNeverConnected(secure, plain);

    TestNode friend = track(certificates.tls(dialing("pfriend", secure), "pfriend", "main", "main").start());
    friend.awaitConnected("psecure");
    await().atMost(Duration.ofSeconds(10)).until(() -> friend.all(Item.class).size() == 1);
    assertThat(plain.all(Item.class)).as("nothing crossed").isEmpty();
    assertStillRunning(plain);
  }

  @Test
  void tlsPeer_againstAPlaintextNode_isRefused() throws Exception {
    TestNode plainServer = track(listening("tplain").set(EntanglementSettings.PLAINTEXT, "true").start());
    plainServer.inTransaction(em -> em.persist(new Item("P", "plain only", 1)));
    TestNode tlsClient = track(certificates.tls(dialing("ttls", plainServer), "ttls", "main", "main").start());

    awaitRedials("ttls", address(plainServer), 3);
    assertThat(log.warnings("Node 'tplain' refused the connection from 127.0.0.1:", "it starts a TLS handshake",
        "but node 'tplain' listens in plaintext")).hasSize(1);
    assertThat(log.warnings("Node 'ttls' could not open its stream to " + address(plainServer),
        "TLS handshake failed: the peer answered in plaintext; it does not speak TLS")).hasSize(1);
    assertNeverConnected(plainServer, tlsClient);

    TestNode friend = track(dialing("tfriend", plainServer).set(EntanglementSettings.PLAINTEXT, "true").start());
    friend.awaitConnected("tplain");
    await().atMost(Duration.ofSeconds(10)).until(() -> friend.all(Item.class).size() == 1);
    assertThat(identity(friend, "tplain")).isEqualTo(PeerIdentity.unverified("tplain"));
    assertThat(identity(friend, "tplain").verified()).isFalse();
    assertThat(tlsClient.all(Item.class)).as("nothing crossed").isEmpty();
    assertStillRunning(tlsClient);
  }

  /** Waits until the node has been refused and dialed again (with backoff) several times. */
  private void awaitRedials(String node, String target, int times) {
    await().atMost(Duration.ofSeconds(15))
        .until(() -> log.lines("Node '" + node + "' dials " + target + " again").size() >= times);
  }

  private static void assertNeverConnected(TestNode server, TestNode refused) {
    await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5)).until(() ->
        !server.entanglement().connectedPeers().contains(refused.name()) && refused.entanglement().connectedPeers().isEmpty());
    assertThat(refused.entanglement().peers()).allSatisfy(p -> assertThat(p.state()).isNotEqualTo(PeerStatus.State.STREAMING));
  }

  /** The refused node still works locally: it commits (it keeps redialing too, see awaitRedials). */
  private static void assertStillRunning(TestNode node) {
    node.inTransaction(em -> em.persist(new Item("LOCAL-" + node.name(), "local", 1)));
    assertThat(node.all(Item.class)).extracting(Item::getCode).contains("LOCAL-" + node.name());
  }

  @Test
  void aStoppedNode_releasesTheNettyThreadsOfItsServer() throws Exception {
    TestNode node = certificates.tls(listening("loops"), "loops", "main", "main").start();
    TestNode peer = track(certificates.tls(dialing("looppeer", node), "looppeer", "main", "main").start());
    peer.awaitConnected("loops");
    assertThat(threads("entanglement-loops-netty")).isNotEmpty();
    node.close();
    await().atMost(Duration.ofSeconds(20)).until(() -> threads("entanglement-loops-netty").isEmpty());
  }

  private static List<String> threads(String prefix) {
    return Thread.getAllStackTraces().keySet().stream().map(Thread::getName).filter(n -> n.startsWith(prefix)).toList();
  }

  @Test
  void badTlsSettings_failTheBoot_namingTheSettingAndValue() throws Exception {
    Path a = certificates.node("a", "main");
    Path b = certificates.node("b", "main");
    String cert = a.resolve(DevCertificates.CERTIFICATE).toString();
    String key = a.resolve(DevCertificates.PRIVATE_KEY).toString();
    String trust = certificates.ca("main").resolve(DevCertificates.CERTIFICATE).toString();
    Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a pem file");
    Path missing = dir.resolve("missing.pem");

    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, missing.toString())
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).set(EntanglementSettings.TLS_TRUST, trust),
        "Setting entanglement.tls.certificate has the value '" + missing + "', which cannot be read");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, garbage.toString())
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).set(EntanglementSettings.TLS_TRUST, trust),
        "Setting entanglement.tls.certificate has the value '" + garbage + "'", "expected a PEM file");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, missing.toString()).set(EntanglementSettings.TLS_TRUST, trust),
        "Setting entanglement.tls.private_key has the value '" + missing + "', which cannot be read");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, garbage.toString()).set(EntanglementSettings.TLS_TRUST, trust),
        "Setting entanglement.tls.private_key has the value '" + garbage + "', which holds no PKCS#8 private key");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, b.resolve(DevCertificates.PRIVATE_KEY).toString())
        .set(EntanglementSettings.TLS_TRUST, trust),
        "Setting entanglement.tls.private_key has the value '" + b.resolve(DevCertificates.PRIVATE_KEY) + "'",
        "whose key does not belong to the certificate in entanglement.tls.certificate ('" + cert + "', subject CN=a)");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).set(EntanglementSettings.TLS_TRUST, missing.toString()),
        "Setting entanglement.tls.trust has the value '" + missing + "', which cannot be read");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).set(EntanglementSettings.TLS_TRUST, garbage.toString()),
        "Setting entanglement.tls.trust has the value '" + garbage + "'", "expected a PEM file");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).set(EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, "abc"),
        "Setting entanglement.tls.trusted_fingerprints has the invalid value 'abc' in 'abc'",
        "64 hex digits each (colons allowed)");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key)
        .set(EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, certificates.fingerprint("b", "main") + ",zz:11"),
        "Setting entanglement.tls.trusted_fingerprints has the invalid value 'zz:11'");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_TRUST, trust),
        "Setting entanglement.tls.private_key is missing");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_PRIVATE_KEY, key)
        .set(EntanglementSettings.TLS_TRUST, trust),
        "Setting entanglement.tls.certificate is missing");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key),
        "Neither entanglement.tls.trust nor entanglement.tls.trusted_fingerprints is set");
    assertBootFails(listening("a"), "TCP addresses are configured", "neither mutual TLS");
    assertBootFails(TestNode.builder("a", Database.H2, Item.class).peers("127.0.0.1:1"),
        "TCP addresses are configured", "neither mutual TLS");
    assertBootFails(listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).set(EntanglementSettings.TLS_TRUST, trust)
        .set(EntanglementSettings.PLAINTEXT, "true"),
        "Setting entanglement.transport.plaintext has the invalid value 'true'");
  }

  private static void assertBootFails(TestNode.Builder builder, String... messages) {
    assertThatThrownBy(builder::buildFactory).satisfies(failure -> {
      Throwable cause = failure;
      while (!(cause instanceof EntanglementConfigurationException) && cause.getCause() != null) {
        cause = cause.getCause();
      }
      assertThat(cause).isInstanceOf(EntanglementConfigurationException.class);
      for (String message : messages) {
        assertThat(cause.getMessage()).contains(message);
      }
    });
  }

  @Test
  void inProcessConnections_needNoTls_andCarryAnUnverifiedIdentity() {
    try (NodePair pair = NodePair.start(Database.H2, dev.entanglement.hibernate.testing.Transport.IN_PROCESS, Item.class)) {
      assertThat(identity(pair.a, "b")).isEqualTo(PeerIdentity.unverified("b"));
      assertThat(identity(pair.b, "a").fingerprint()).isNull();
    }
  }
}
