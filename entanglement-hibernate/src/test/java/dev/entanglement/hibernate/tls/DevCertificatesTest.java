package dev.entanglement.hibernate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Development certificates: what the files hold, and the command that writes them. */
class DevCertificatesTest {
  @TempDir Path dir;

  @Test
  void nodeCertificate_isSignedByTheCa_withTheNameAsCnAndDnsNames_ecP256_andValidForAYear() throws Exception {
    var ca = DevCertificates.createCa(dir.resolve("ca"), "test CA");
    var node = DevCertificates.createNode(dir.resolve("red"), dir.resolve("ca"), "red");

    node.verify(ca.getPublicKey());
    assertThat(ca.getBasicConstraints()).as("a CA").isGreaterThanOrEqualTo(0);
    assertThat(node.getBasicConstraints()).as("not a CA").isEqualTo(-1);
    assertThat(node.getSubjectX500Principal().getName()).isEqualTo("CN=red");
    assertThat(node.getIssuerX500Principal()).isEqualTo(ca.getSubjectX500Principal());
    assertThat(node.getSubjectAlternativeNames()).containsExactlyInAnyOrder(List.of(2, "red"), List.of(2, "localhost"));
    assertThat(node.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"); // server and client
    assertThat(((ECPublicKey) node.getPublicKey()).getParams().getCurve().getField().getFieldSize()).isEqualTo(256);
    Duration validity = Duration.between(node.getNotBefore().toInstant(), node.getNotAfter().toInstant());
    assertThat(validity).isBetween(Duration.ofDays(365), Duration.ofDays(366));
    assertThat(node.getNotAfter().toInstant()).isAfter(Instant.now().plus(Duration.ofDays(364)));
  }

  @Test
  void privateKey_isAPkcs8Pem_readableOnlyByItsOwner_andBelongsToTheCertificate() throws Exception {
    DevCertificates.createCa(dir.resolve("ca"), "test CA");
    var node = DevCertificates.createNode(dir.resolve("red"), dir.resolve("ca"), "red");
    Path keyFile = dir.resolve("red").resolve(DevCertificates.PRIVATE_KEY);
    String pem = Files.readString(keyFile);

    assertThat(pem).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile))).isEqualTo("rw-------");
    byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
    var key = (ECPrivateKey) KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
    var signer = java.security.Signature.getInstance("SHA256withECDSA");
    signer.initSign(key);
    signer.update(new byte[] {1, 2, 3});
    byte[] signature = signer.sign();
    var verifier = java.security.Signature.getInstance("SHA256withECDSA");
    verifier.initVerify(node.getPublicKey());
    verifier.update(new byte[] {1, 2, 3});
    assertThat(verifier.verify(signature)).isTrue();
  }

  @Test
  void fingerprint_isTheSha256OfTheDerEncoding_inLowercaseHexWithoutColons() throws Exception {
    var ca = DevCertificates.createCa(dir.resolve("ca"), "test CA");
    String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(ca.getEncoded()));

    assertThat(Fingerprints.sha256(ca)).isEqualTo(expected).matches("[0-9a-f]{64}");
    assertThat(Fingerprints.normalize(expected.toUpperCase().replaceAll("(..)(?!$)", "$1:"))).isEqualTo(expected);
    assertThat(Fingerprints.normalize("abc")).isNull();
  }

  @Test
  void main_writesTheCaAndANodeCertificate_andPrintsFingerprints() throws Exception {
    String caDir = dir.resolve("ca").toString();
    String nodeDir = dir.resolve("blue").toString();
    String caOut = run("ca", caDir);
    String nodeOut = run("node", nodeDir, "--ca", caDir, "--name", "blue");
    String printed = run("fingerprint", nodeDir + "/" + DevCertificates.CERTIFICATE).strip();

    var node = DevCertificates.readCertificate(Path.of(nodeDir, DevCertificates.CERTIFICATE));
    assertThat(caOut).contains("CA written to " + caDir);
    assertThat(nodeOut).contains("certificate of node 'blue' written to " + nodeDir, Fingerprints.sha256(node));
    assertThat(printed).isEqualTo(Fingerprints.sha256(node));
    assertThat(node.getSubjectX500Principal().getName()).isEqualTo("CN=blue");
  }

  private static String run(String... args) throws Exception {
    PrintStream original = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      DevCertificates.main(args);
    } finally {
      System.setOut(original);
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}
