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
import io.grpc.netty.shaded.io.grpc.netty.NettySslContextServerCredentials;
import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.IoHandlerFactory;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.UnaryOperator;

/**
 * Builds gRPC servers and channels for {@link PeerAddress}es. Callbacks run directly on the
 * transport threads (gRPC's direct executor): the plugin never blocks there, it only hands work
 * to its own executors, which saves a thread switch per message.
 */
public final class Transports {
  /** Largest message accepted by a node's channels and its admin server, in bytes. */
  public static final int MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

  private Transports() {}

  /**
   * Starts a server: in-process, or Netty over TCP with mutual TLS when {@code tls} is given
   * (plaintext otherwise, which the configuration allows only when asked for explicitly).
   *
   * @param node this node's name, for the log lines about refused connections
   */
  public static Server startServer(String node, PeerAddress address, ReplicationService service, TlsConfig tls)
      throws IOException {
    int limit = service.maxMessageBytes();
    if (!address.isNetwork()) {
      return InProcessServerBuilder.forName(address.host()).directExecutor()
          .maxInboundMessageSize(limit).addService(service).build().start();
    }
    // the guard refuses a message past the limit in-band as it arrives; gRPC's own (higher)
    // limit bounds what one stream can buffer before that
    return startNetty(node, address, List.of(io.grpc.ServerInterceptors.intercept(service, TlsIdentity.serverInterceptor())),
        tls == null ? null : tls.serverContext(), builder -> builder.directExecutor()
            .maxInboundMessageSize(InboundSizeGuard.hardLimit(limit))
            .addStreamTracerFactory(new InboundSizeGuard(limit)));
  }

  /**
   * Starts a server for the given (already intercepted) services, with this TLS context or none.
   *
   * @param label who serves, for the log lines about refused connections (e.g. "a (admin)")
   */
  public static Server startServer(String label, PeerAddress address, List<io.grpc.ServerServiceDefinition> services,
      io.grpc.netty.shaded.io.netty.handler.ssl.SslContext tls) throws IOException {
    if (!address.isNetwork()) {
      InProcessServerBuilder builder = InProcessServerBuilder.forName(address.host()).directExecutor();
      services.forEach(builder::addService);
      return builder.build().start();
    }
    return startNetty(label, address, services, tls, builder -> builder);
  }

  /**
   * A Netty server whose every accepted connection is watched by a {@link ConnectionWatch} from
   * its first byte. The watch is added by a handler on the listening channel, ahead of Netty's
   * acceptor; a channel factory of our own needs event loops of our own, which the returned
   * server releases once it has terminated.
   */
  private static Server startNetty(String label, PeerAddress address, List<io.grpc.ServerServiceDefinition> services,
      SslContext tls, UnaryOperator<NettyServerBuilder> configure) throws IOException {
    boolean epoll = Epoll.isAvailable();
    IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    String threads = "entanglement-" + label.replaceAll("[^A-Za-z0-9._-]+", "-").replaceAll("-$", "") + "-netty";
    EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory(threads + "-accept", true), io);
    EventLoopGroup workers = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory(threads, true), io);
    ChannelInboundHandlerAdapter acceptor = new WatchAccepted(label, tls != null);
    NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(address.host(), address.port()),
            tls == null ? InsecureServerCredentials.create() : NettySslContextServerCredentials.create(tls))
        .bossEventLoopGroup(boss)
        .workerEventLoopGroup(workers)
        .channelFactory(() -> {
          ServerChannel channel = epoll ? new EpollServerSocketChannel() : new NioServerSocketChannel();
          channel.pipeline().addLast(acceptor);
          return channel;
        });
    services.forEach(builder::addService);
    Server server = configure.apply(builder).build();
    try {
      server.start();
    } catch (IOException | RuntimeException e) {
      boss.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      workers.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
      throw e;
    }
    return new LoopOwningServer(server, boss, workers);
  }

  /** On the listening channel: puts a {@link ConnectionWatch} first in each accepted connection. */
  @ChannelHandler.Sharable
  private static final class WatchAccepted extends ChannelInboundHandlerAdapter {
    private final String label;
    private final boolean tls;

    WatchAccepted(String label, boolean tls) {
      this.label = label;
      this.tls = tls;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof Channel accepted) {
        accepted.pipeline().addFirst(new ConnectionWatch(label, tls));
      }
      ctx.fireChannelRead(msg);
    }
  }

  /**
   * A Netty server and the event loops it runs on: once a shutdown has let the server terminate,
   * the loops are shut down too (from a short-lived daemon thread, as termination needs them).
   */
  private static final class LoopOwningServer extends Server {
    private final Server server;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final AtomicBoolean releasing = new AtomicBoolean();

    LoopOwningServer(Server server, EventLoopGroup boss, EventLoopGroup workers) {
      this.server = server;
      this.boss = boss;
      this.workers = workers;
    }

    private void releaseWhenTerminated() {
      if (!releasing.compareAndSet(false, true)) {
        return;
      }
      Thread release = new Thread(() -> {
        try {
          if (!server.awaitTermination(1, TimeUnit.MINUTES)) {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          boss.shutdownGracefully(0, 5, TimeUnit.SECONDS);
          workers.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        }
      }, "entanglement-netty-release");
      release.setDaemon(true);
      release.start();
    }

    @Override
    public Server start() throws IOException {
      server.start();
      return this;
    }

    @Override
    public int getPort() {
      return server.getPort();
    }

    @Override
    public List<? extends SocketAddress> getListenSockets() {
      return server.getListenSockets();
    }

    @Override
    public List<io.grpc.ServerServiceDefinition> getServices() {
      return server.getServices();
    }

    @Override
    public List<io.grpc.ServerServiceDefinition> getImmutableServices() {
      return server.getImmutableServices();
    }

    @Override
    public List<io.grpc.ServerServiceDefinition> getMutableServices() {
      return server.getMutableServices();
    }

    @Override
    public Server shutdown() {
      server.shutdown();
      releaseWhenTerminated();
      return this;
    }

    @Override
    public Server shutdownNow() {
      server.shutdownNow();
      releaseWhenTerminated();
      return this;
    }

    @Override
    public boolean isShutdown() {
      return server.isShutdown();
    }

    @Override
    public boolean isTerminated() {
      return server.isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return server.awaitTermination(timeout, unit);
    }

    @Override
    public void awaitTermination() throws InterruptedException {
      server.awaitTermination();
    }
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
