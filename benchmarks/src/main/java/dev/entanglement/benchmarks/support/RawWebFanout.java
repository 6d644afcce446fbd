package dev.entanglement.benchmarks.support;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The raw limit the browsers scenario compares with: a bare Netty WebSocket server in the same
 * JVM, with the node's web endpoint's settings (2 event loops, TCP_NODELAY, the same write-buffer
 * water marks), that writes one pre-encoded frame per change to the same subsets of clients
 * ({@link Subsets}), to every channel directly from the calling thread. No database, no policy,
 * no outbox, no acknowledgements, no flow control: what fan-out over WebSocket costs at the least.
 * A client connects to {@code /raw?c=<index>}.
 */
public final class RawWebFanout implements AutoCloseable {
  private final EventLoopGroup boss = new NioEventLoopGroup(1, daemon("bench-raw-accept"));
  private final EventLoopGroup loops = new NioEventLoopGroup(2, daemon("bench-raw-web"));
  /** Every client's channel by group, and the set everyone gets; written by the event loops on handshake. */
  private final List<List<Channel>> groups = new CopyOnWriteArrayList<>();
  private final List<Channel> all = new CopyOnWriteArrayList<>();
  private final AtomicInteger handshakes = new AtomicInteger();
  private final Channel server;

  public RawWebFanout() throws InterruptedException {
    for (int g = 0; g < Subsets.GROUPS; g++) {
      groups.add(new CopyOnWriteArrayList<>());
    }
    server = new ServerBootstrap()
        .group(boss, loops)
        .channel(NioServerSocketChannel.class)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(32 * 1024, 64 * 1024))
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(16 * 1024),
                new WebSocketServerProtocolHandler("/raw", null, false, 64 * 1024, false, true),
                new Registration());
          }
        })
        .bind("127.0.0.1", 0).sync().channel();
  }

  /** {@code ws://127.0.0.1:PORT/raw}. */
  public String url() {
    return "ws://127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort() + "/raw";
  }

  /** Clients whose WebSocket handshake completed. */
  public int connected() {
    return handshakes.get();
  }

  /**
   * Writes {@code frame} to every client that sees {@code object}; returns how many. The bytes are
   * shared (one buffer, a retained view per channel); each event loop gets one task that writes
   * to its own channels (a task per channel would wake a loop once per client).
   */
  public int publish(long object, byte[] frame) {
    List<Channel> targets = object < Subsets.SHARED ? all : groups.get((int) (object % Subsets.GROUPS));
    ByteBuf bytes = Unpooled.wrappedBuffer(frame);
    for (EventExecutor loop : loops) {
      bytes.retain();
      loop.execute(() -> {
        try {
          for (Channel channel : targets) {
            if (channel.eventLoop() == loop) {
              channel.writeAndFlush(new BinaryWebSocketFrame(bytes.retainedDuplicate()), channel.voidPromise());
            }
          }
        } finally {
          bytes.release();
        }
      });
    }
    bytes.release();
    return targets.size();
  }

  @Override
  public void close() {
    server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    for (Channel channel : all) {
      channel.close();
    }
    boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
  }

  /** Files a channel under its client's group once its handshake completed; drops what clients send. */
  private final class Registration extends ChannelInboundHandlerAdapter {
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
      if (event instanceof WebSocketServerProtocolHandler.HandshakeComplete handshake) {
        List<String> c = new QueryStringDecoder(handshake.requestUri()).parameters().get("c");
        int client = c == null ? -1 : Integer.parseInt(c.get(0));
        if (client < 0) {
          ctx.close();
          return;
        }
        all.add(ctx.channel());
        groups.get(client % Subsets.GROUPS).add(ctx.channel());
        ctx.channel().closeFuture().addListener(f -> {
          all.remove(ctx.channel());
          groups.get(client % Subsets.GROUPS).remove(ctx.channel());
        });
        handshakes.incrementAndGet();
      }
      super.userEventTriggered(ctx, event);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object message) {
      ReferenceCountUtil.release(message);
    }
  }

  private static java.util.concurrent.ThreadFactory daemon(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return task -> {
      Thread thread = new Thread(task, prefix + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
