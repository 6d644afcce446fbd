package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.hibernate.web.BrowserIdentity;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;

/**
 * The WebSocket endpoint where browsers become peers ({@code entanglement.web.listen}): Netty's
 * HTTP codec, TLS with the node's certificate when it has one, {@link WebUpgrade} for the upgrade
 * and the identity, then one {@link WebSocketStream} per browser under the same
 * {@link StreamHandler} machinery as a gRPC stream.
 *
 * <p>Bounds per connection: an upgrade request of at most {@link #MAX_UPGRADE_BYTES} (headers
 * included) that must arrive within {@link #UPGRADE_TIMEOUT_SECONDS}; frames and messages of at
 * most {@code entanglement.peer.max_message_bytes}; a write buffer that stops the sender at
 * {@link #HIGH_WATER_MARK} (then the peer's outbox coalesces, as for a slow gRPC peer).
 *
 * <h2>Concurrency</h2>
 * Started and stopped on the thread that starts and stops the node; {@code channel} and
 * {@code groups} are written there before anything is served and read after (volatile). The
 * connections run on the event loops (see {@link WebUpgrade} and {@link WebSocketStream}).
 */
public final class WebServer {
  /** Write buffer level (bytes) above which a browser's stream counts as not ready. */
  static final int HIGH_WATER_MARK = 64 * 1024;
  /** Level below which it is ready again. */
  static final int LOW_WATER_MARK = 32 * 1024;
  static final int MAX_UPGRADE_BYTES = 16 * 1024;
  static final int UPGRADE_TIMEOUT_SECONDS = 10;

  /** What every connection needs: the node's name, its handlers of browser streams, the identity, limits. */
  record Settings(String nodeName, StreamHandler.Factory<?> handlers, Consumer<StreamHandler> accepted,
      BrowserIdentity identity, Executor workers, int maxMessageBytes) {}

  private final Settings settings;
  private final SSLContext tls;
  private volatile EventLoopGroup boss;
  private volatile EventLoopGroup workers;
  private volatile Channel channel;

  /**
   * @param handlers makes the handler of each admitted browser ({@link StreamHandler.Factory#newBrowserStream})
   * @param accepted told of every new browser handler, so the node can close it at shutdown
   * @param identity the application's decision on who a browser is; null refuses every browser
   * @param workers where the identity is asked (it may block)
   * @param tls the node's certificate for {@code wss}, or null for plaintext
   */
  public <H extends StreamHandler> WebServer(StreamHandler.Factory<H> handlers, Consumer<? super H> accepted,
      BrowserIdentity identity, Executor workers, int maxMessageBytes, SSLContext tls) {
    // the handlers given to it are the factory's own, made by newBrowserStream: of type H
    @SuppressWarnings("unchecked")
    Consumer<StreamHandler> announce = handler -> accepted.accept((H) handler);
    this.settings = new Settings(handlers.nodeName(), handlers, announce, identity, workers, maxMessageBytes);
    this.tls = tls;
  }

  /** Binds {@code host:port} (port 0: any free port); throws if it cannot. */
  public void start(String host, int port) throws InterruptedException {
    String node = settings.nodeName();
    boss = new NioEventLoopGroup(1, threads("entanglement-" + node + "-web-accept"));
    workers = new NioEventLoopGroup(2, threads("entanglement-" + node + "-web"));
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(boss, workers)
        .channel(NioServerSocketChannel.class)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(LOW_WATER_MARK, HIGH_WATER_MARK))
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            if (tls != null) {
              SSLEngine engine = tls.createSSLEngine();
              engine.setUseClientMode(false);
              ch.pipeline().addLast("tls", new SslHandler(engine));
            }
            ch.pipeline().addLast("http", new HttpServerCodec(4096, MAX_UPGRADE_BYTES, 8192));
            ch.pipeline().addLast("http-aggregate", new HttpObjectAggregator(MAX_UPGRADE_BYTES));
            ch.pipeline().addLast("upgrade", new WebUpgrade(settings));
            // a connection that never completes its upgrade does not stay open
            ch.eventLoop().schedule(() -> {
              if (ch.pipeline().get(WebUpgrade.class) != null) {
                ch.close();
              }
            }, UPGRADE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
          }
        });
    boolean bound = false;
    try {
      channel = bootstrap.bind(host, port).sync().channel();
      bound = true;
    } finally {
      if (!bound) {
        stop(); // Netty throws the bind's IOException undeclared
      }
    }
  }

  /** The port actually bound, or -1 before start. */
  public int port() {
    Channel bound = channel;
    return bound == null ? -1 : ((InetSocketAddress) bound.localAddress()).getPort();
  }

  /** Stops accepting and ends the event loops (the browsers' streams were closed by the node first). */
  public void stop() {
    Channel bound = channel;
    if (bound != null) {
      bound.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    EventLoopGroup acceptor = boss;
    EventLoopGroup loops = workers;
    if (acceptor != null) {
      acceptor.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
    if (loops != null) {
      // a short quiet period lets the close frames of the streams just ended go out
      loops.shutdownGracefully(100, 2_000, TimeUnit.MILLISECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return task -> {
      Thread thread = new Thread(task, prefix + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
