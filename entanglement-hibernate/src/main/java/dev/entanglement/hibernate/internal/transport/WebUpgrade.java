package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.core.NodeNames;
import dev.entanglement.hibernate.web.Admission;
import dev.entanglement.hibernate.web.BrowserIdentity;
import dev.entanglement.hibernate.web.UpgradeRequest;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.cookie.Cookie;
import io.netty.handler.codec.http.cookie.ServerCookieDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.jboss.logging.Logger;

/**
 * The HTTP side of one browser connection: takes its upgrade request, asks the application's
 * {@link BrowserIdentity} (on a worker, as it may look a token up) who it is, and either answers
 * 401/403 with the reason as a text body and closes (no WebSocket is opened), or completes the
 * WebSocket handshake and hands the connection to a {@link WebSocketStream} and the node's
 * handler of browser streams. One per connection; it leaves the pipeline once upgraded.
 *
 * <p>A plain GET (no {@code Upgrade} header) gets the identity's decision on the same request
 * (path, parameters, cookies) as a page's script can read it: browsers' WebSocket API hides a
 * refused upgrade's status and body (close code 1006 only), so the JavaScript client asks this
 * after a connection that never opened. Refused: 401/403 with the reason; admitted: 426 Upgrade
 * Required, "admitted as NAME; connect with a WebSocket". The answer allows the page's origin to
 * read it (CORS, with credentials): it tells that page no more than a WebSocket from it would,
 * and an identity that serves only some origins refuses the others on both (it sees the
 * {@code Origin} header). Same limits as an upgrade: one request per connection, 16 KiB, 10 s.
 *
 * <h2>Concurrency</h2>
 * Runs on the channel's event loop, except {@link BrowserIdentity#identify}, which runs on the
 * node's worker pool and hands its answer back to the event loop. {@code asked} is confined to
 * the event loop. While the identity is asked, the channel does not read.
 */
final class WebUpgrade extends SimpleChannelInboundHandler<FullHttpRequest> {
  private static final Logger LOG = Logger.getLogger(WebUpgrade.class);
  private static final LimitedLog failures = new LimitedLog(LOG);

  private final WebServer.Settings settings;
  private boolean asked;

  WebUpgrade(WebServer.Settings settings) {
    this.settings = settings;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    if (asked) {
      return; // one upgrade per connection
    }
    asked = true;
    if (!request.decoderResult().isSuccess()) {
      answer(ctx, HttpResponseStatus.BAD_REQUEST, "the upgrade request could not be read: " + request.decoderResult().cause(),
          null);
      return;
    }
    boolean upgrade = request.headers().containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true);
    // a plain GET asks what an upgrade would be answered (for scripts, which cannot see a refused upgrade)
    String origin = upgrade ? null : request.headers().get(HttpHeaderNames.ORIGIN);
    if (!upgrade && !HttpMethod.GET.equals(request.method())) {
      answer(ctx, HttpResponseStatus.UPGRADE_REQUIRED, ("node '%s' serves browser peers over WebSocket only "
          + "(entanglement.web.listen): open a WebSocket here, or GET it to learn whether you are admitted")
          .formatted(settings.nodeName()), null);
      return;
    }
    UpgradeRequest view = view(ctx, request);
    BrowserIdentity identity = settings.identity();
    if (identity == null) {
      answer(ctx, HttpResponseStatus.FORBIDDEN, ("node '%s' has no browser identity configured (setting "
          + "entanglement.web.identity): it refuses every browser").formatted(settings.nodeName()), origin);
      return;
    }
    FullHttpRequest held = request.retainedDuplicate();
    ctx.channel().config().setAutoRead(false);
    Runnable ask = () -> {
      Admission admission;
      try {
        admission = identity.identify(view);
      } catch (RuntimeException e) {
        failures.warn("identify", "Node '%s': the browser identity %s threw for an upgrade from %s: %s".formatted(
            settings.nodeName(), identity.getClass().getName(), view.remoteAddress(), e));
        admission = null;
      }
      Admission decided = admission;
      ctx.executor().execute(() -> decided(ctx, held, view, decided, upgrade, origin));
    };
    try {
      settings.workers().execute(ask);
    } catch (RejectedExecutionException e) {
      held.release();
      answer(ctx, HttpResponseStatus.SERVICE_UNAVAILABLE, "node '%s' is stopping".formatted(settings.nodeName()), origin);
    }
  }

  private void decided(ChannelHandlerContext ctx, FullHttpRequest request, UpgradeRequest view, Admission admission,
      boolean upgrade, String origin) {
    try {
      if (admission == null) {
        answer(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, ("node '%s' could not decide who the browser is: the "
            + "browser identity failed (see the node's log)").formatted(settings.nodeName()), origin);
        return;
      }
      if (admission instanceof Admission.Refused refused) {
        answer(ctx, HttpResponseStatus.valueOf(refused.status()), refused.reason(), origin);
        return;
      }
      String name = ((Admission.Admitted) admission).peerName();
      if (!NodeNames.valid(name)) {
        failures.warn("name", ("Node '%s': the browser identity %s admitted a browser from %s under the invalid peer "
            + "name '%s' (expected %s); the upgrade is refused").formatted(settings.nodeName(),
            settings.identity().getClass().getName(), view.remoteAddress(), name, NodeNames.RULE));
        answer(ctx, HttpResponseStatus.INTERNAL_SERVER_ERROR, ("node '%s' could not decide who the browser is: the "
            + "browser identity gave an invalid peer name (see the node's log)").formatted(settings.nodeName()), origin);
        return;
      }
      if (!upgrade) {
        answer(ctx, HttpResponseStatus.UPGRADE_REQUIRED, "admitted as %s; connect with a WebSocket".formatted(name), origin);
        return;
      }
      upgrade(ctx, request, view, name);
    } finally {
      request.release();
    }
  }

  private void upgrade(ChannelHandlerContext ctx, FullHttpRequest request, UpgradeRequest view, String name) {
    String scheme = view.secure() ? "wss" : "ws";
    String host = request.headers().get(HttpHeaderNames.HOST, "localhost");
    WebSocketServerHandshakerFactory handshakers = new WebSocketServerHandshakerFactory(
        scheme + "://" + host + view.path(), null, WebSocketDecoderConfig.newBuilder()
            .maxFramePayloadLength(settings.maxMessageBytes())
            .closeOnProtocolViolation(false) // the handler closes, naming the problem
            .allowExtensions(false)
            .build());
    WebSocketServerHandshaker handshaker = handshakers.newHandshaker(request);
    if (handshaker == null) {
      answer(ctx, HttpResponseStatus.UPGRADE_REQUIRED, "unsupported WebSocket version (13 is spoken here)", null);
      return;
    }
    StreamHandler handler = settings.handlers().newBrowserStream(name, "browser " + view.remoteAddress());
    WebSocketStream stream = new WebSocketStream(ctx.channel(), handler, settings.maxMessageBytes());
    ctx.pipeline().addAfter(ctx.name(), "ws-aggregate", new WebSocketFrameAggregator(settings.maxMessageBytes()));
    ctx.pipeline().addAfter("ws-aggregate", "ws-stream", stream.inbound());
    ctx.pipeline().remove(this);
    handshaker.handshake(ctx.channel(), request).addListener(done -> {
      if (!done.isSuccess()) {
        LOG.debugf("Node '%s': the WebSocket handshake with %s failed: %s", settings.nodeName(), view.remoteAddress(),
            done.cause());
        ctx.channel().close();
        return;
      }
      handler.attach(stream);
      stream.request(1); // the Hello; the apply window is granted once the browser is accepted
      settings.accepted().accept(handler);
      ctx.channel().config().setAutoRead(true);
      ctx.channel().read();
    });
  }

  private static UpgradeRequest view(ChannelHandlerContext ctx, FullHttpRequest request) {
    QueryStringDecoder query = new QueryStringDecoder(request.uri());
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (Map.Entry<String, String> header : request.headers()) {
      headers.computeIfAbsent(header.getKey().toLowerCase(Locale.ROOT), k -> new ArrayList<>()).add(header.getValue());
    }
    Map<String, String> cookies = new LinkedHashMap<>();
    for (String line : request.headers().getAll(HttpHeaderNames.COOKIE)) {
      for (Cookie cookie : ServerCookieDecoder.LAX.decode(line)) {
        cookies.putIfAbsent(cookie.name(), cookie.value());
      }
    }
    boolean secure = ctx.pipeline().get(SslHandler.class) != null;
    return new UpgradeRequest(query.path(), query.parameters(), headers, cookies,
        (InetSocketAddress) ctx.channel().remoteAddress(), secure);
  }

  /**
   * Answers with an HTTP status and a text body, and closes the connection; with the page's
   * {@code origin} (a plain GET from a script), lets that page read the answer.
   */
  private static void answer(ChannelHandlerContext ctx, HttpResponseStatus status, String reason, String origin) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
        Unpooled.copiedBuffer(reason + "\n", StandardCharsets.UTF_8));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    response.headers().set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
    if (status.equals(HttpResponseStatus.UPGRADE_REQUIRED)) {
      response.headers().set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
    }
    if (origin != null) {
      response.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, origin);
      response.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
      response.headers().set(HttpHeaderNames.VARY, HttpHeaderNames.ORIGIN);
    }
    ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    LOG.debugf("Node '%s': a browser connection failed before its upgrade: %s", settings.nodeName(), cause);
    ctx.close();
  }
}
