package dev.entanglement.sample.entangled;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.tls.DevCertificates;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** With --tls-cert, --tls-key and --tls-trust the nodes talk mutual TLS instead of plaintext. */
class EntangledTlsTest {
  private static final String APP = "/etc/app.conf";

  @TempDir Path temp;
  private EntangledPair pair;

  @AfterEach
  void stop() {
    if (pair != null) {
      pair.close();
    }
  }

  @Test
  void overMutualTls_aChangePropagates() throws Exception {
    Path certificates = temp.resolve("certificates");
    DevCertificates.createCa(certificates.resolve("ca"), "entangled-test-ca");
    pair = new EntangledPair(temp, APP);
    for (String node : new String[] {"a", "b"}) {
      DevCertificates.createNode(certificates.resolve(node), certificates.resolve("ca"), node);
      pair.extraArgs(node,
          "--tls-cert", certificates.resolve(node).resolve(DevCertificates.CERTIFICATE).toString(),
          "--tls-key", certificates.resolve(node).resolve(DevCertificates.PRIVATE_KEY).toString(),
          "--tls-trust", certificates.resolve("ca").resolve(DevCertificates.CERTIFICATE).toString());
      pair.write(node, APP, "port = 8080\n");
    }
    pair.start();
    pair.awaitStatusOnBoth(APP, "aligned");
    assertThat(pair.node("a").entanglement().peers()).allSatisfy(peer -> assertThat(peer.name()).isEqualTo("b"));

    pair.write("b", APP, "port = 8443\n");

    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.read("a", APP)).isEqualTo("port = 8443\n"));
    pair.awaitStatusOnBoth(APP, "aligned");
  }

  @Test
  void plaintextOrTls_isAnExplicitChoice_andTheSettingsFollowIt() {
    EntangledConfig plain = EntangledMain.parse("--node", "a", "--listen", "127.0.0.1:7001", "--data-dir", "/tmp/x",
        "--file", "/etc/app.conf", "--plaintext");
    assertThat(plain.persistenceSettings()).containsEntry("entanglement.transport.plaintext", "true")
        .doesNotContainKey("entanglement.tls.certificate");
    EntangledConfig tls = EntangledMain.parse("--node", "a", "--listen", "127.0.0.1:7001", "--data-dir", "/tmp/x",
        "--file", "/etc/app.conf", "--tls-cert", "/certs/a.pem", "--tls-key", "/certs/a-key.pem", "--tls-trust",
        "/certs/ca.pem");
    assertThat(tls.persistenceSettings())
        .containsEntry("entanglement.tls.certificate", "/certs/a.pem")
        .containsEntry("entanglement.tls.private_key", "/certs/a-key.pem")
        .containsEntry("entanglement.tls.trust", "/certs/ca.pem")
        .doesNotContainKey("entanglement.transport.plaintext");

    EntangledConfig neither = EntangledMain.parse("--node", "a", "--listen", "127.0.0.1:7001", "--data-dir", "/tmp/x",
        "--file", "/etc/app.conf");
    assertThatThrownBy(neither::persistenceSettings).isInstanceOf(EntangledConfigException.class)
        .hasMessage("no transport security chosen: give --tls-cert, --tls-key and --tls-trust (mutual TLS), or"
            + " --plaintext (unencrypted: loopback or a trusted network only)");
    EntangledConfig both = EntangledMain.parse("--node", "a", "--listen", "127.0.0.1:7001", "--data-dir", "/tmp/x",
        "--file", "/etc/app.conf", "--plaintext", "--tls-cert", "/certs/a.pem");
    assertThatThrownBy(both::persistenceSettings).isInstanceOf(EntangledConfigException.class)
        .hasMessageStartingWith("--plaintext and --tls-*: choose one");
  }
}
