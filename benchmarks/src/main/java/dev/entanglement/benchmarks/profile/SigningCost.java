package dev.entanglement.benchmarks.profile;

import dev.entanglement.hibernate.internal.signing.NodeSigner;
import dev.entanglement.hibernate.internal.signing.SignerKeys;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Value;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.UUID;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * What signed state costs per change in CPU alone, on one thread: an owner's signature of a
 * change the size of the benchmarks' {@code BenchItem} (canonical form included), and a
 * receiver's verification of it (the owner's key already parsed, as {@code SignerKeys} keeps it),
 * for each key type a node certificate may have. Not part of the report: the figures that say
 * what signing on adds to the capture and apply scenarios, which run on machines too loaded to
 * show a difference of a few microseconds per change. Run:
 *
 * <pre>{@code
 * mvn -B -q -DskipTests install
 * mvn -B -q -pl benchmarks exec:java -Dexec.mainClass=dev.entanglement.benchmarks.profile.SigningCost -Dexec.args=3
 * }</pre>
 */
public final class SigningCost {
  private SigningCost() {}

  public static void main(String[] args) throws Exception {
    long seconds = args.length > 0 ? Long.parseLong(args[0]) : 3;
    for (String algorithm : List.of("EC", "Ed25519", "RSA")) {
      KeyPair owner = pair(algorithm);
      X509Certificate certificate = certificate("owner", owner);
      NodeSigner signer = new NodeSigner("owner", owner.getPrivate(), List.of(certificate));
      SignerKeys keys = new SignerKeys("receiver", chain -> {}, List.of(certificate("receiver", pair("EC"))));
      keys.offer("owner", signer.chain());
      List<Change> changes = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        changes.add(change(i));
      }
      Change sample = signer.sign(changes.get(0));
      for (int round = 0; round < 3; round++) {
        long nanos = seconds * 1_000_000_000L / (round == 0 ? 3 : 1);
        double sign = perChange(nanos, i -> signer.sign(changes.get(i % changes.size())));
        List<Change> signed = changes.stream().map(signer::sign).toList();
        double verify = perChange(nanos, i -> {
          if (keys.problem(signed.get(i % signed.size())) != null) {
            throw new IllegalStateException("does not verify");
          }
        });
        List<Change> batch = changes.subList(0, 256);
        double batchSign = perChange(nanos / 256, i -> signer.signAll(batch)) / 256;
        List<Change> batchSigned = signer.signAll(batch);
        double batchVerify = perChange(nanos / 256, i -> {
          SignerKeys fresh = new SignerKeys("receiver", chain -> {}, List.of(certificate));
          fresh.offer("owner", signer.chain());
          for (Change change : batchSigned) {
            if (fresh.problem(change) != null) {
              throw new IllegalStateException("does not verify");
            }
          }
        }) / 256;
        if (round > 0) {
          System.out.printf("%-8s round %d: one change: sign %.1f us, verify %.1f us (%d bytes, signature %d bytes); "
              + "a batch of 256: sign %.1f us, verify %.1f us per change (%d bytes with its path)%n", algorithm, round,
              sign, verify, sample.getSerializedSize(), sample.getSignature().size(), batchSign, batchVerify,
              batchSigned.get(0).getSerializedSize());
        }
      }
    }
  }

  private static double perChange(long nanos, IntConsumerWithException work) {
    long start = System.nanoTime();
    int done = 0;
    while (System.nanoTime() - start < nanos) {
      for (int k = 0; k < 50; k++) {
        work.accept(done++);
      }
    }
    return (System.nanoTime() - start) / 1000.0 / done;
  }

  /** An IntConsumer that may throw (certificates in the loop). */
  private interface IntConsumerWithException extends java.util.function.IntConsumer {
    void acceptChecked(int value) throws Exception;

    @Override
    default void accept(int value) {
      try {
        acceptChecked(value);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }
  }

  private static Change change(int i) {
    Change.Builder change = Change.newBuilder().setEntity("BenchItem")
        .setId(Value.newBuilder().setUuid(UUID.randomUUID().toString())).setOwner("owner").setSerial(i + 1)
        .setOperation(Operation.UPSERT);
    change.addAttributes(attribute("seq", Value.newBuilder().setInteger(i)));
    change.addAttributes(attribute("name", Value.newBuilder().setText("item-" + i)));
    change.addAttributes(attribute("quantity", Value.newBuilder().setInteger(i % 1000)));
    change.addAttributes(attribute("price", Value.newBuilder().setReal(i * 0.01)));
    change.addAttributes(attribute("active", Value.newBuilder().setBoolean(true)));
    change.addAttributes(attribute("note", Value.newBuilder().setText("benchmark row")));
    return change.build();
  }

  private static Attribute attribute(String name, Value.Builder value) {
    return Attribute.newBuilder().setName(name).setValue(value).build();
  }

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
    return new JcaX509CertificateConverter().getCertificate(new JcaX509v3CertificateBuilder(new X500Name("CN=" + name),
        BigInteger.ONE, new Date(System.currentTimeMillis() - 60_000), new Date(System.currentTimeMillis() + 3_600_000),
        new X500Name("CN=" + name), pair.getPublic()).build(new JcaContentSignerBuilder(algorithm).build(pair.getPrivate())));
  }
}
