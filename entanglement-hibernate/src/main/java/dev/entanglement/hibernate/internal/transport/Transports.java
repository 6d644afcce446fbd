package dev.entanglement.hibernate.internal.transport;

import io.grpc.BindableService;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * Builds gRPC servers and channels for {@link PeerAddress}es. Callbacks run directly on the
 * transport threads (gRPC's direct executor): the plugin never blocks there, it only hands work
 * to its own executors, which saves a thread switch per message.
 */
public final class Transports {
  /** Largest message accepted, in bytes: a full batch of large objects fits. */
  public static final int MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

  private Transports() {}

  /**
   * Starts a server: in-process, or Netty over TCP with mutual TLS when {@code tls} is given
   * (plaintext otherwise, which the configuration allows only when asked for explicitly).
   */
  public static Server startServer(PeerAddress address, BindableService service, TlsConfig tls) throws IOException {
    if (!address.isNetwork()) {
      return InProcessServerBuilder.forName(address.host()).directExecutor()
          .maxInboundMessageSize(MAX_MESSAGE_BYTES).addService(service).build().start();
    }
    return NettyServerBuilder.forAddress(new InetSocketAddress(address.host(), address.port()),
            tls == null ? InsecureServerCredentials.create()
                : io.grpc.netty.shaded.io.grpc.netty.NettySslContextServerCredentials.create(tls.serverContext()))
        .directExecutor()
        .maxInboundMessageSize(MAX_MESSAGE_BYTES)
        .addService(io.grpc.ServerInterceptors.intercept(service, TlsIdentity.serverInterceptor()))
        .build()
        .start();
  }

  /** Starts a server for the given (already intercepted) services, with this TLS context or none. */
  public static Server startServer(PeerAddress address, List<io.grpc.ServerServiceDefinition> services,
      io.grpc.netty.shaded.io.netty.handler.ssl.SslContext tls) throws IOException {
    if (!address.isNetwork()) {
      InProcessServerBuilder builder = InProcessServerBuilder.forName(address.host()).directExecutor();
      services.forEach(builder::addService);
      return builder.build().start();
    }
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(address.host(), address.port()),
        tls == null ? InsecureServerCredentials.create()
            : io.grpc.netty.shaded.io.grpc.netty.NettySslContextServerCredentials.create(tls));
    services.forEach(builder::addService);
    return builder.build().start();
  }

  public static ManagedChannel channel(PeerAddress address, TlsConfig tls) {
    if (!address.isNetwork()) {
      return InProcessChannelBuilder.forName(address.host()).directExecutor()
          .maxInboundMessageSize(MAX_MESSAGE_BYTES).build();
    }
    return NettyChannelBuilder.forAddress(address.host(), address.port(),
            tls == null ? InsecureChannelCredentials.create()
                : io.grpc.netty.shaded.io.grpc.netty.NettySslContextChannelCredentials.create(tls.clientContext()))
        .directExecutor()
        .maxInboundMessageSize(MAX_MESSAGE_BYTES)
        .intercept(TlsIdentity.clientInterceptor())
        .build();
  }
}
