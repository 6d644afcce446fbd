package dev.entanglement.hibernate.testing;

import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.tls.DevCertificates;
import dev.entanglement.hibernate.tls.Fingerprints;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.HashMap;
import java.util.Map;

/** Development CAs and node certificates in a test's temporary directory, made with {@link DevCertificates}. */
public final class Certificates {
  private final Path dir;
  private final Map<String, X509Certificate> issued = new HashMap<>();

  public Certificates(Path dir) {
    this.dir = dir;
  }

  /** Creates the CA named {@code ca} (once). */
  public Path ca(String ca) throws Exception {
    Path caDir = dir.resolve("ca-" + ca);
    if (!caDir.resolve(DevCertificates.CERTIFICATE).toFile().exists()) {
      DevCertificates.createCa(caDir, "test CA " + ca);
    }
    return caDir;
  }

  /** Creates a certificate for {@code node} signed by CA {@code ca}; returns its directory. */
  public Path node(String node, String ca) throws Exception {
    Path nodeDir = dir.resolve(ca + "-" + node);
    if (!issued.containsKey(ca + "/" + node)) {
      issued.put(ca + "/" + node, DevCertificates.createNode(nodeDir, ca(ca), node));
    }
    return nodeDir;
  }

  public String fingerprint(String node, String ca) {
    return Fingerprints.sha256(issued.get(ca + "/" + node));
  }

  /** A node listening on loopback TCP with its certificate from {@code ca}, trusting CA {@code trustedCa}. */
  public TestNode.Builder tls(TestNode.Builder builder, String node, String ca, String trustedCa) throws Exception {
    Path nodeDir = node(node, ca);
    builder.set(EntanglementSettings.TLS_CERTIFICATE, nodeDir.resolve(DevCertificates.CERTIFICATE).toString())
        .set(EntanglementSettings.TLS_PRIVATE_KEY, nodeDir.resolve(DevCertificates.PRIVATE_KEY).toString());
    if (trustedCa != null) {
      builder.set(EntanglementSettings.TLS_TRUST, ca(trustedCa).resolve(DevCertificates.CERTIFICATE).toString());
    }
    return builder;
  }
}
