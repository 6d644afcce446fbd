package dev.entanglement.hibernate.internal.signing;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Value;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Signing and verifying with each key type docs/security.md allows, and what the signed form covers. */
class SignerKeysTest {
  private static KeyPair pair(String algorithm) throws Exception {
    KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
    if (algorithm.equals("EC")) {
      generator.initialize(new ECGenParameterSpec("secp256r1"));
    } else if (algorithm.equals("RSA")) {
      generator.initialize(2048);
    }
    return generator.generateKeyPair();
  }

  private static X509Certificate certificate(String name, KeyPair pair) throws Exception {
    String algorithm = switch (pair.getPrivate().getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> "Ed25519";
    };
    var builder = new JcaX509v3CertificateBuilder(new X500Name("CN=" + name), BigInteger.ONE,
        new Date(System.currentTimeMillis() - 60_000), new Date(System.currentTimeMillis() + 3_600_000),
        new X500Name("CN=" + name), pair.getPublic());
    return new JcaX509CertificateConverter().getCertificate(builder.build(new JcaContentSignerBuilder(algorithm)
        .build(pair.getPrivate())));
  }

  private static ByteString der(X509Certificate certificate) throws Exception {
    return ByteString.copyFrom(certificate.getEncoded());
  }

  private static Change change(String owner) {
    return Change.newBuilder().setEntity("Item").setId(Value.newBuilder().setUuid("7c1e0c1e-0000-4000-8000-000000000001"))
        .setOwner(owner).setSerial(7).setOperation(Operation.UPSERT)
        .addAttributes(Attribute.newBuilder().setName("name").setValue(Value.newBuilder().setText("lamp"))).build();
  }

  @ParameterizedTest
  @ValueSource(strings = {"EC", "RSA", "Ed25519"})
  void eachKeyTypeSigns_andItsSignatureVerifies_andAnyAlterationDoesNot(String algorithm) throws Exception {
    KeyPair owner = pair(algorithm);
    X509Certificate ownerCertificate = certificate("owner", owner);
    KeyPair receiver = pair("EC");
    SignerKeys keys = new SignerKeys("receiver", chain -> {}, List.of(certificate("receiver", receiver)));
    assertThat(keys.offer("owner", List.of(der(ownerCertificate))).added()).isTrue();

    Change signed = new NodeSigner("owner", owner.getPrivate(), List.of(ownerCertificate)).sign(change("owner"));
    assertThat(keys.problem(signed)).isNull();
    // the time to live is not covered (relays pass on the time left)
    assertThat(keys.problem(signed.toBuilder().setTtlMs(500).build())).isNull();
    // everything else is
    assertThat(keys.problem(signed.toBuilder().setSerial(8).build())).contains("does not verify");
    assertThat(keys.problem(signed.toBuilder().setEpoch(1).build())).contains("does not verify");
    assertThat(keys.problem(signed.toBuilder().setHandoverTo("thief").build())).contains("does not verify");
    assertThat(keys.problem(signed.toBuilder().setOperation(Operation.DELETE).build())).contains("does not verify");
    assertThat(keys.problem(signed.toBuilder().setSignature(ByteString.copyFromUtf8("garbage")).build()))
        .contains("does not verify");
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 5, 8, 13})
  void aBatchSignedOnce_eachChangeVerifiesAlone_andNoAlteredOrMovedOneDoes(int size) throws Exception {
    KeyPair owner = pair("EC");
    X509Certificate ownerCertificate = certificate("owner", owner);
    SignerKeys keys = new SignerKeys("receiver", chain -> {}, List.of(certificate("receiver", pair("EC"))));
    keys.offer("owner", List.of(der(ownerCertificate)));
    List<Change> batch = new java.util.ArrayList<>();
    for (int i = 0; i < size; i++) {
      batch.add(change("owner").toBuilder().setSerial(i + 1).build());
    }
    List<Change> signed = new NodeSigner("owner", owner.getPrivate(), List.of(ownerCertificate)).signAll(batch);
    assertThat(signed).extracting(Change::getSignature).containsOnly(signed.get(0).getSignature());
    // a fresh receiver for each: every change verifies alone, as after a relay took it out of its batch
    for (Change change : signed) {
      SignerKeys alone = new SignerKeys("other", chain -> {}, List.of(certificate("other", pair("EC"))));
      alone.offer("owner", List.of(der(ownerCertificate)));
      assertThat(alone.problem(change)).isNull();
    }
    for (Change change : signed) {
      assertThat(keys.problem(change)).isNull(); // the root verified once, the others from the cache
      assertThat(keys.problem(change.toBuilder().setSerial(99).build())).isNotNull();
      assertThat(keys.problem(change.toBuilder().setSignatureLeaf((change.getSignatureLeaf() + 1) % size).build()))
          .isNotNull();
      assertThat(keys.problem(change.toBuilder().clearSignaturePath().build())).isNotNull();
    }
  }

  @Test
  void aCertificateIsKeptOnlyWhenTrustedAndIssuedToTheOwnersName() throws Exception {
    KeyPair pair = pair("EC");
    SignerKeys keys = new SignerKeys("receiver", chain -> {
      if (!chain[0].getSubjectX500Principal().getName().contains("trusted")) {
        throw new CertificateException("not ours");
      }
    }, List.of(certificate("receiver", pair)));
    assertThat(keys.offer("x", List.of(der(certificate("stranger", pair)))).problem()).contains("not trusted here");
    assertThat(keys.offer("x", List.of(der(certificate("trusted", pair)))).problem()).contains("is issued to [trusted]");
    assertThat(keys.offer("trusted", List.of(der(certificate("trusted", pair)))).added()).isTrue();
    assertThat(keys.offer("trusted", List.of(der(certificate("trusted", pair)))).added()).as("a new certificate")
        .isTrue();
    assertThat(keys.offer("x", List.of(ByteString.copyFromUtf8("not a certificate"))).problem())
        .contains("cannot be read");
  }
}
