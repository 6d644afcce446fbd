package dev.entanglement.hibernate.internal.transport;

import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslHandler;
import io.grpc.netty.shaded.io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertificateException;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Watches one accepted TCP connection until its first bytes arrive and, over TLS, until its
 * handshake ends, so that a refused connection is logged once at WARN with the peer's address and
 * the reason. gRPC itself reports handshake failures only at FINE, and without the address the
 * trust manager cannot know. It sits first in the connection's pipeline (nearest the socket):
 *
 * <ul>
 *   <li>on a TLS server, bytes that are not a TLS handshake are a plaintext peer: it is told so
 *       with an HTTP/2 GOAWAY (INADEQUATE_SECURITY, the reason as debug data) and disconnected;
 *   <li>on a TLS server, a failed handshake is logged with the reason from {@link PeerTrust} (an
 *       untrusted certificate) or the peer's alert (it does not trust this node);
 *   <li>on a plaintext server, a TLS handshake is a TLS peer: logged, then left to gRPC, whose
 *       plaintext answer the peer's TLS layer reports as "not an SSL/TLS record".
 * </ul>
 *
 * <p>Repeats of the same refusal (a peer redials with backoff) go to DEBUG for a minute. One
 * instance per connection, confined to the connection's event loop.
 */
final class ConnectionWatch extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = Logger.getLogger(ConnectionWatch.class);
  private static final byte TLS_HANDSHAKE_RECORD = 0x16;
  private static final int HTTP2_INADEQUATE_SECURITY = 0xc;
  private static final int GOAWAY_GRACE_MILLIS = 250;

  private final String node;
  private final boolean tls;
  private boolean seen; // the first bytes were inspected
  private boolean reported; // this connection's refusal was logged
  private boolean discarding; // refused: what else arrives is dropped until the connection closes

  /**
   * @param node the node's name as log lines show it ("a", or "a (admin)")
   * @param tls whether the server speaks TLS
   */
  ConnectionWatch(String node, boolean tls) {
    this.node = node;
    this.tls = tls;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (discarding) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (seen || !(msg instanceof ByteBuf first) || !first.isReadable()) {
      ctx.fireChannelRead(msg);
      return;
    }
    seen = true;
    boolean tlsRecord = first.getByte(first.readerIndex()) == TLS_HANDSHAKE_RECORD;
    if (tls && !tlsRecord) {
      boolean http2 = startsLike(first, "PRI * HTTP/2.0");
      String reason = (http2 ? "it speaks plaintext HTTP/2 (a node with entanglement.transport.plaintext=true?)"
          : "its first bytes are not a TLS handshake") + ", but node '" + node + "' requires mutual TLS";
      report(ctx, "refused the connection from", reason);
      first.release();
      if (http2) {
        discarding = true;
        goAway(ctx, "node '" + node + "' requires mutual TLS; this connection is plaintext");
      } else {
        ctx.close();
      }
      return;
    }
    if (tls) {
      SslHandler ssl = ctx.pipeline().get(SslHandler.class);
      if (ssl != null) {
        ssl.handshakeFuture().addListener(done -> {
          if (!done.isSuccess()) {
            handshakeFailed(ctx, done.cause());
          }
        });
      }
    } else if (tlsRecord) {
      report(ctx, "refused the connection from", "it starts a TLS handshake (it has entanglement.tls.* settings), "
          + "but node '" + node + "' listens in plaintext (entanglement.transport.plaintext=true)");
    }
    ctx.fireChannelRead(msg);
  }

  private void handshakeFailed(ChannelHandlerContext ctx, Throwable failure) {
    CertificateException refusal = null;
    Throwable root = failure;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof CertificateException c && refusal == null) {
        refusal = c;
      }
      root = t;
    }
    if (refusal != null) {
      report(ctx, "refused the connection from", refusal.getMessage());
      return;
    }
    String message = String.valueOf(root.getMessage());
    if (PeerTrust.distrustAlert(message)) {
      report(ctx, "could not complete the TLS handshake with", "the peer does not trust this node's certificate ("
          + message + "); its log says why");
    } else if (root instanceof ClosedChannelException || message.toLowerCase(Locale.ROOT).contains("closed")) {
      report(ctx, "could not complete the TLS handshake with", "the peer closed the connection during the "
          + "handshake (" + message + "); it may not trust this node's certificate, its log says why");
    } else {
      report(ctx, "could not complete the TLS handshake with", message);
    }
  }

  private void report(ChannelHandlerContext ctx, String verb, String reason) {
    if (reported) {
      return;
    }
    reported = true;
    String peer = address(ctx.channel().remoteAddress());
    String line = "Node '%s' %s %s: %s".formatted(node, verb, peer, reason);
    String host = peer.replaceFirst(":[0-9]+$", "");
    if (QuietLog.first(node + " " + verb + " " + host + ": " + reason)) {
      LOG.warn(line + " (repeats are logged at DEBUG for a minute)");
    } else {
      LOG.debug(line);
    }
  }

  /** An HTTP/2 server preface (empty SETTINGS) and a GOAWAY whose debug data gives the reason. */
  private static void goAway(ChannelHandlerContext ctx, String why) {
    byte[] debug = why.getBytes(StandardCharsets.UTF_8);
    ByteBuf frames = ctx.alloc().buffer(9 + 9 + 8 + debug.length);
    frames.writeMedium(0).writeByte(0x4).writeByte(0).writeInt(0); // SETTINGS, no parameters
    // GOAWAY on stream 0. The last stream id is the highest possible: a client retries streams
    // above it elsewhere, transparently, and would only dial in plaintext again and again
    frames.writeMedium(8 + debug.length).writeByte(0x7).writeByte(0).writeInt(0)
        .writeInt(Integer.MAX_VALUE).writeInt(HTTP2_INADEQUATE_SECURITY).writeBytes(debug);
    ctx.writeAndFlush(frames);
    // closing now, with the peer's first bytes unread, would reset the connection and lose the
    // GOAWAY; the peer waits for the end of its stream, so this closes after a short grace period
    ctx.executor().schedule(() -> ctx.close(), GOAWAY_GRACE_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** Whether the buffer's readable bytes are a prefix of {@code text} (or start with all of it). */
  private static boolean startsLike(ByteBuf buf, String text) {
    int n = Math.min(text.length(), buf.readableBytes());
    return buf.toString(buf.readerIndex(), n, StandardCharsets.US_ASCII).equals(text.substring(0, n));
  }

  static String address(SocketAddress address) {
    if (address instanceof InetSocketAddress inet) {
      return inet.getHostString() + ":" + inet.getPort();
    }
    return String.valueOf(address);
  }
}
