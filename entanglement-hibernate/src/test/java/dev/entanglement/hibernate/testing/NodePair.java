package dev.entanglement.hibernate.testing;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.function.UnaryOperator;

/** Two connected test nodes: {@code a} listens, {@code b} dials it. */
public final class NodePair implements AutoCloseable {
  public final TestNode a;
  public final TestNode b;

  private NodePair(TestNode a, TestNode b) {
    this.a = a;
    this.b = b;
  }

  public static NodePair start(Database database, Transport transport, Class<?>... entities) {
    return start(database, transport, UnaryOperator.identity(), UnaryOperator.identity(), entities);
  }

  public static NodePair start(Database database, Transport transport,
      UnaryOperator<TestNode.Builder> customizeA, UnaryOperator<TestNode.Builder> customizeB,
      Class<?>... entities) {
    TestNode a = customizeA.apply(transport.listen(TestNode.builder("a", database, entities))).start();
    TestNode b = null;
    try {
      String address = a.entanglement().listenAddress().orElseThrow();
      b = customizeB.apply(transport.dial(TestNode.builder("b", database, entities), address)).start();
      TestNode bb = b;
      await().alias("a and b connected").atMost(Duration.ofSeconds(20)).until(() ->
          a.entanglement().connectedPeers().contains("b") && bb.entanglement().connectedPeers().contains("a"));
      return new NodePair(a, b);
    } catch (RuntimeException | Error e) {
      a.close();
      if (b != null) {
        b.close();
      }
      throw e;
    }
  }

  /**
   * Two nodes over mutual TLS on loopback: certificates for "a" and "b" from the CA "main" of
   * {@code certificates}, each trusting that CA.
   */
  public static NodePair startTls(Database database, Certificates certificates, Class<?>... entities) {
    return start(database, Transport.NETTY, a -> tls(certificates, withoutPlaintext(a), "a"),
        b -> tls(certificates, withoutPlaintext(b), "b"), entities);
  }

  private static TestNode.Builder withoutPlaintext(TestNode.Builder builder) {
    return builder.set(dev.entanglement.hibernate.EntanglementSettings.PLAINTEXT, "false");
  }

  private static TestNode.Builder tls(Certificates certificates, TestNode.Builder builder, String node) {
    try {
      return certificates.tls(builder, node, "main", "main");
    } catch (Exception e) {
      throw new IllegalStateException("cannot create the test certificates of " + node, e);
    }
  }

  @Override
  public void close() {
    b.close();
    a.close();
  }
}
