package dev.entanglement.hibernate.testing;

import dev.entanglement.hibernate.tls.DevCertificates;
import dev.entanglement.proto.v1.Envelope;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

/**
 * {@link RecordingRelay} over mutual TLS on loopback: a real node dials it as it would dial the
 * target node (the relay presents the target's certificate), and it dials the target presenting
 * the dialing node's certificate. Every envelope passes unchanged; those going back to the dialer
 * (what the dialing node reads off the wire) are recorded, across reconnects. It holds both
 * nodes' keys, which is what lets a test read frames that are encrypted on the wire.
 *
 * <p>Bounds: the record grows with the test's traffic; gRPC's flow control paces both directions.
 */
public final class TlsRecordingRelay implements AutoCloseable {
  private final Server server;
  private final ManagedChannel target;
  private final ConcurrentLinkedQueue<Envelope> toDialer = new ConcurrentLinkedQueue<>();

  private TlsRecordingRelay(String targetHostPort, Path targetDir, Path dialerDir, Path caCertificate) throws IOException {
    int colon = targetHostPort.lastIndexOf(':');
    target = NettyChannelBuilder.forAddress(targetHostPort.substring(0, colon),
            Integer.parseInt(targetHostPort.substring(colon + 1)))
        .sslContext(GrpcSslContexts.forClient()
            .keyManager(dialerDir.resolve(DevCertificates.CERTIFICATE).toFile(),
                dialerDir.resolve(DevCertificates.PRIVATE_KEY).toFile())
            .trustManager(caCertificate.toFile()).build())
        .overrideAuthority("localhost").build();
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .sslContext(GrpcSslContexts.forServer(targetDir.resolve(DevCertificates.CERTIFICATE).toFile(),
                targetDir.resolve(DevCertificates.PRIVATE_KEY).toFile())
            .trustManager(caCertificate.toFile()).clientAuth(ClientAuth.REQUIRE).build())
        .addService(RecordingRelay.relaying(target, toDialer)).build().start();
  }

  /**
   * Listens on loopback and relays every stream to the node at {@code targetHostPort}.
   *
   * @param targetDir the target node's certificate and key (presented to the dialer)
   * @param dialerDir the dialing node's certificate and key (presented to the target)
   */
  public static TlsRecordingRelay start(String targetHostPort, Path targetDir, Path dialerDir, Path caCertificate) {
    try {
      return new TlsRecordingRelay(targetHostPort, targetDir, dialerDir, caCertificate);
    } catch (IOException e) {
      throw new IllegalStateException("TLS relay to " + targetHostPort + " did not start", e);
    }
  }

  /** The address to dial, {@code 127.0.0.1:port}. */
  public String address() {
    return "127.0.0.1:" + server.getPort();
  }

  /** Every envelope the target sent to the dialer so far, in order. */
  public List<Envelope> toDialer() {
    return List.copyOf(toDialer);
  }

  @Override
  public void close() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    target.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }
}
