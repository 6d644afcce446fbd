package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.PeerRef;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Certificates;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.tls.DevCertificates;
import java.io.IOException;
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
 * every refusal leaves both nodes running with nothing exchanged.
 */
class MutualTlsIntegrationTest {
  @TempDir Path dir;
  private Certificates certificates;
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @BeforeEach
  void certificates() {
    certificates = new Certificates(dir);
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

  private TestNode.Builder listening(String name) {
    return TestNode.builder(name, Database.H2, Item.class).set(EntanglementSettings.LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50").set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200");
  }

  private TestNode.Builder dialing(String name, TestNode target) {
    return TestNode.builder(name, Database.H2, Item.class).peers(target.entanglement().listenAddress().orElseThrow())
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50").set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200");
  }

  /** Records the peers policies see, with their fingerprints. */
  static final class SeenPeers implements Policy {
    final Map<String, String> fingerprints = new ConcurrentHashMap<>();

    @Override
    public Decision send(PeerRef peer, ObjectRef object) {
      fingerprints.put(peer.name(), String.valueOf(peer.fingerprint()));
      return Decision.abstain();
    }
  }

  @Test
  void caTrust_replicates_andPoliciesSeeTheVerifiedFingerprint() throws Exception {
    SeenPeers seenByA = new SeenPeers();
    TestNode a = track(certificates.tls(listening("a"), "a", "main", "main").set(EntanglementSettings.POLICY, seenByA).start());
    SeenPeers seenByB = new SeenPeers();
    TestNode b = track(certificates.tls(dialing("b", a), "b", "main", "main").set(EntanglementSettings.POLICY, seenByB).start());
    b.awaitConnected("a");
    Item item = new Item("TLS1", "over tls", 1);
    a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, item.getId()) != null);
    b.inTransaction(em -> em.persist(new Item("TLS2", "back", 2)));
    await().atMost(Duration.ofSeconds(10)).until(() -> a.all(Item.class).size() == 2);
    assertThat(seenByA.fingerprints).containsEntry("b", certificates.fingerprint("b", "main"));
    assertThat(seenByB.fingerprints).containsEntry("a", certificates.fingerprint("a", "main"));
  }

  @Test
  void fingerprintTrust_alone_replicates() throws Exception {
    certificates.node("a", "other");
    certificates.node("b", "other");
    TestNode a = track(certificates.tls(listening("a"), "a", "other", null)
        .set(EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, certificates.fingerprint("b", "other")).start());
    String colons = certificates.fingerprint("a", "other").toUpperCase().replaceAll("(..)(?!$)", "$1:");
    TestNode b = track(certificates.tls(dialing("b", a), "b", "other", null)
        .set(EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, colons).start());
    b.awaitConnected("a");
    a.inTransaction(em -> em.persist(new Item("FP", "pinned", 1)));
    await().atMost(Duration.ofSeconds(10)).until(() -> b.all(Item.class).size() == 1);
  }

  @Test
  void unknownCertificate_isRefused_bothNodesKeepRunning_andACorrectPeerStillConnects() throws Exception {
    TestNode a = track(certificates.tls(listening("a"), "a", "main", "main").start());
    a.inTransaction(em -> em.persist(new Item("SECRET", "for trusted peers", 1)));
    // signed by a CA a does not trust; b trusts a's CA
    TestNode stranger = track(certificates.tls(dialing("b", a), "b", "rogue", "main").start());
    await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5))
        .until(() -> a.entanglement().connectedPeers().isEmpty() && stranger.entanglement().connectedPeers().isEmpty());
    assertThat(stranger.all(Item.class)).as("nothing crossed").isEmpty();

    TestNode friend = track(certificates.tls(dialing("c", a), "c", "main", "main").start());
    friend.awaitConnected("a");
    await().atMost(Duration.ofSeconds(10)).until(() -> friend.all(Item.class).size() == 1);
    assertThat(stranger.entanglement().connectedPeers()).isEmpty();
    assertThat(stranger.entanglement().peers()).allSatisfy(p -> assertThat(p.state()).isNotEqualTo("STREAMING"));
  }

  @Test
  void wrongCertificate_aTrustedCertificateForAnotherName_isRefused() throws Exception {
    TestNode a = track(certificates.tls(listening("a"), "a", "main", "main").start());
    a.inTransaction(em -> em.persist(new Item("SECRET", "for c only", 1)));
    // node "mallory" presents c's certificate (valid, trusted CA) but says it is mallory
    Path cDir = certificates.node("c", "main");
    TestNode mallory = track(dialing("mallory", a)
        .set(EntanglementSettings.TLS_CERTIFICATE, cDir.resolve(DevCertificates.CERTIFICATE).toString())
        .set(EntanglementSettings.TLS_PRIVATE_KEY, cDir.resolve(DevCertificates.PRIVATE_KEY).toString())
        .set(EntanglementSettings.TLS_TRUST, certificates.ca("main").resolve(DevCertificates.CERTIFICATE).toString())
        .start());
    await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5))
        .until(() -> a.entanglement().connectedPeers().isEmpty() && mallory.entanglement().connectedPeers().isEmpty());
    assertThat(mallory.all(Item.class)).isEmpty();
  }

  @Test
  void plaintextAgainstTls_andTlsAgainstPlaintext_areRefused() throws Exception {
    TestNode secure = track(certificates.tls(listening("secure"), "secure", "main", "main").start());
    TestNode plain = track(dialing("plain", secure).set(EntanglementSettings.PLAINTEXT, "true").start());
    secure.inTransaction(em -> em.persist(new Item("S", "secure only", 1)));
    TestNode plainServer = track(listening("plainserver").set(EntanglementSettings.PLAINTEXT, "true").start());
    plainServer.inTransaction(em -> em.persist(new Item("P", "plain only", 1)));
    TestNode tlsClient = track(certificates.tls(dialing("tlsclient", plainServer), "tlsclient", "main", "main").start());
    await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() ->
        secure.entanglement().connectedPeers().isEmpty() && plain.entanglement().connectedPeers().isEmpty()
            && plainServer.entanglement().connectedPeers().isEmpty() && tlsClient.entanglement().connectedPeers().isEmpty());
    assertThat(plain.all(Item.class)).isEmpty();
    assertThat(tlsClient.all(Item.class)).isEmpty();
  }

  @Test
  void badTlsSettings_failTheBoot_namingTheSettingAndValue() throws Exception {
    Path a = certificates.node("a", "main");
    Path b = certificates.node("b", "main");
    String cert = a.resolve(DevCertificates.CERTIFICATE).toString();
    String key = a.resolve(DevCertificates.PRIVATE_KEY).toString();
    String trust = certificates.ca("main").resolve(DevCertificates.CERTIFICATE).toString();
    Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a pem file");

    assertThatThrownBy(() -> listening("a").set(EntanglementSettings.TLS_CERTIFICATE, dir.resolve("missing.pem").toString())
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).set(EntanglementSettings.TLS_TRUST, trust).buildFactory())
        .hasStackTraceContaining("Setting entanglement.tls.certificate has the value '" + dir.resolve("missing.pem")
            + "', which cannot be read");
    assertThatThrownBy(() -> listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, garbage.toString()).set(EntanglementSettings.TLS_TRUST, trust).buildFactory())
        .hasStackTraceContaining("Setting entanglement.tls.private_key has the value '" + garbage + "', which holds no PKCS#8 private key");
    assertThatThrownBy(() -> listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, b.resolve(DevCertificates.PRIVATE_KEY).toString())
        .set(EntanglementSettings.TLS_TRUST, trust).buildFactory())
        .hasStackTraceContaining("whose key does not belong to the certificate in entanglement.tls.certificate");
    assertThatThrownBy(() -> listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).set(EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, "abc").buildFactory())
        .hasStackTraceContaining("Setting entanglement.tls.trusted_fingerprints has the invalid value 'abc'");
    assertThatThrownBy(() -> listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).buildFactory())
        .hasStackTraceContaining("Neither entanglement.tls.trust nor entanglement.tls.trusted_fingerprints is set");
    assertThatThrownBy(() -> listening("a").buildFactory())
        .hasStackTraceContaining("TCP addresses are configured");
    assertThatThrownBy(() -> listening("a").set(EntanglementSettings.TLS_CERTIFICATE, cert)
        .set(EntanglementSettings.TLS_PRIVATE_KEY, key).set(EntanglementSettings.TLS_TRUST, trust)
        .set(EntanglementSettings.PLAINTEXT, "true").buildFactory())
        .hasStackTraceContaining("Setting entanglement.transport.plaintext has the invalid value 'true'");
  }

  @SuppressWarnings("unused")
  private static String read(Path file) throws IOException {
    return Files.readString(file);
  }
}
