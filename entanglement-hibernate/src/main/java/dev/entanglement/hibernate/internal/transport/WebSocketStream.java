package dev.entanglement.hibernate.internal.transport;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.entanglement.proto.v1.Envelope;
import io.grpc.Status;
import io.grpc.stub.CallStreamObserver;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One browser's WebSocket seen as a gRPC stream: the outbound {@link CallStreamObserver} that
 * {@code PeerStream} drives (one serialized {@link Envelope} per binary frame), and the inbound
 * handler that parses the browser's frames and hands them to the {@link StreamHandler}. Flow
 * control maps one to one, so a browser gets the peer machinery unchanged:
 * <ul>
 *   <li>{@link #isReady}: the channel is writable, i.e. its write buffer is below the high water
 *       mark ({@link WebServer#HIGH_WATER_MARK}); the drain stops there and the outbox coalesces;
 *   <li>{@link #setOnReadyHandler}: run when the buffer drained below the low water mark;
 *   <li>{@link #request}: credits for received messages; with none left the channel stops reading
 *       (autoRead off), so a browser that sends faster than the node applies waits in TCP.
 *   <li>the browser's Acks stand in for HTTP/2's receive window: at most
 *       {@link #MAX_UNACKNOWLEDGED} ChangeBatches are unanswered at a time ({@link #isReady} is
 *       false beyond), so a browser that reads but never answers cannot make the node keep
 *       unbounded batches in flight for it (a gRPC peer that does not apply stops granting, and
 *       gRPC's window does the same).
 * </ul>
 * {@link #onError} and {@link #onCompleted} end the socket with a close frame carrying the status
 * (code and description, cut to WebSocket's 123 bytes) and then close it.
 *
 * <h2>Concurrency</h2>
 * {@code credits}, {@code waiting} and {@code ending} are confined to the channel's event loop
 * (every method that touches them from elsewhere hands off with {@code eventLoop().execute});
 * {@code onReady} is volatile; {@code unanswered} is a concurrent set. {@link #onNext} may be
 * called from any thread (the peer's serial
 * executor): Netty queues the write and counts its bytes against the water marks at once.
 * Bound: {@code waiting} holds only envelopes decoded after the credits ran out, from the last
 * socket read (at most one read buffer, 64 KiB) and one aggregated message of at most
 * {@code entanglement.peer.max_message_bytes}.
 */
final class WebSocketStream extends CallStreamObserver<Envelope> {
  /** Most ChangeBatches sent and not yet answered by the browser's Ack. */
  static final int MAX_UNACKNOWLEDGED = 16;
  /** WebSocket's limit on a close frame's reason, in UTF-8 bytes. */
  static final int MAX_CLOSE_REASON_BYTES = 123;

  private final Channel channel;
  private final StreamHandler handler;
  private final long maxMessageBytes;
  private volatile Runnable onReady = () -> { };
  private long credits;
  private final ArrayDeque<Envelope> waiting = new ArrayDeque<>();
  private boolean ending;
  /** Request ids of the ChangeBatches sent and not answered yet (at most {@link #MAX_UNACKNOWLEDGED}); thread-safe. */
  private final Set<Long> unanswered = ConcurrentHashMap.newKeySet();

  WebSocketStream(Channel channel, StreamHandler handler, long maxMessageBytes) {
    this.channel = channel;
    this.handler = handler;
    this.maxMessageBytes = maxMessageBytes;
  }

  /** The inbound half, placed after the frame aggregator in the channel's pipeline. */
  ChannelInboundHandlerAdapter inbound() {
    return new Inbound();
  }

  // ---- outbound (CallStreamObserver) ----------------------------------------------------------

  @Override
  public boolean isReady() {
    return channel.isActive() && channel.isWritable() && unanswered.size() < MAX_UNACKNOWLEDGED;
  }

  @Override
  public void setOnReadyHandler(Runnable onReadyHandler) {
    this.onReady = onReadyHandler;
  }

  @Override
  public void disableAutoInboundFlowControl() {
    // always manual: nothing is read without credits
  }

  @Override
  public void request(int count) {
    channel.eventLoop().execute(() -> {
      credits += count;
      deliverWaiting();
      if (credits > 0 && !ending) {
        channel.config().setAutoRead(true);
        channel.read(); // autoRead may have been off: read what is pending now
      }
    });
  }

  @Override
  public void setMessageCompression(boolean enable) {
    // WebSocket frames are not compressed
  }

  @Override
  public void onNext(Envelope envelope) {
    if (envelope.hasChanges()) {
      unanswered.add(envelope.getChanges().getRequestId());
    }
    channel.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(envelope.toByteArray())), channel.voidPromise());
  }

  @Override
  public void onError(Throwable t) {
    Status status = Status.fromThrowable(t);
    end(closeStatus(status), closeReason(status));
  }

  @Override
  public void onCompleted() {
    end(WebSocketCloseStatus.NORMAL_CLOSURE, "");
  }

  private void end(WebSocketCloseStatus code, String reason) {
    channel.eventLoop().execute(() -> {
      if (ending) {
        return;
      }
      ending = true;
      waiting.clear();
      if (channel.isActive()) {
        channel.writeAndFlush(new CloseWebSocketFrame(code.code(), reason)).addListener(ChannelFutureListener.CLOSE);
      }
    });
  }

  /**
   * The WebSocket close code for a gRPC status the peer machinery ended the stream with. Of the
   * RESOURCE_EXHAUSTED endings, only a message over the limit is 1009 (sending it again fails
   * again); a tab that did not keep up (its outbox or control messages over their bounds) gets
   * 1013, try again later, and catches up when it reconnects.
   */
  static WebSocketCloseStatus closeStatus(Status status) {
    return switch (status.getCode()) {
      case OK -> WebSocketCloseStatus.NORMAL_CLOSURE;
      case RESOURCE_EXHAUSTED -> status.getDescription() != null
          && status.getDescription().contains("entanglement.peer.max_message_bytes")
          ? WebSocketCloseStatus.MESSAGE_TOO_BIG : WebSocketCloseStatus.TRY_AGAIN_LATER;
      case INVALID_ARGUMENT -> WebSocketCloseStatus.INVALID_PAYLOAD_DATA;
      case PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED ->
          WebSocketCloseStatus.POLICY_VIOLATION;
      case UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED -> WebSocketCloseStatus.TRY_AGAIN_LATER;
      default -> WebSocketCloseStatus.INTERNAL_SERVER_ERROR;
    };
  }

  /** "CODE: description", cut to WebSocket's limit on whole characters (the log has it whole). */
  static String closeReason(Status status) {
    String text = status.getCode() + (status.getDescription() == null ? "" : ": " + status.getDescription());
    if (text.getBytes(StandardCharsets.UTF_8).length <= MAX_CLOSE_REASON_BYTES) {
      return text;
    }
    StringBuilder cut = new StringBuilder();
    int bytes = 3; // the ellipsis
    for (int i = 0; i < text.length(); ) {
      int point = text.codePointAt(i);
      int size = new String(Character.toChars(point)).getBytes(StandardCharsets.UTF_8).length;
      if (bytes + size > MAX_CLOSE_REASON_BYTES) {
        break;
      }
      cut.appendCodePoint(point);
      bytes += size;
      i += Character.charCount(point);
    }
    return cut.append("...").toString();
  }

  // ---- inbound (event loop) -------------------------------------------------------------------

  private void received(Envelope envelope) {
    if (ending) {
      return;
    }
    if (envelope.hasAck() && unanswered.remove(envelope.getAck().getRequestId())) {
      onReady.run(); // the window may have opened again (a drain request is cheap and coalesced)
    }
    if (credits > 0 && waiting.isEmpty()) {
      credits--;
      handler.onNext(envelope);
    } else {
      waiting.add(envelope);
    }
    if (credits == 0) {
      channel.config().setAutoRead(false);
    }
  }

  private void deliverWaiting() {
    while (credits > 0 && !waiting.isEmpty() && !ending) {
      credits--;
      handler.onNext(waiting.poll());
    }
  }

  private final class Inbound extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object message) {
      WebSocketFrame frame = (WebSocketFrame) message;
      try {
        if (frame instanceof BinaryWebSocketFrame) {
          Envelope envelope;
          try {
            envelope = Envelope.parseFrom(new ByteBufInputStream(frame.content()));
          } catch (InvalidProtocolBufferException e) {
            handler.unreadable("a message that is not a valid Envelope (" + e.getMessage() + ")");
            return;
          } catch (IOException e) {
            handler.unreadable("a message that could not be read (" + e.getMessage() + ")");
            return;
          }
          received(envelope);
        } else if (frame instanceof TextWebSocketFrame) {
          handler.unreadable("a text frame; envelopes travel one per binary frame");
        } else if (frame instanceof PingWebSocketFrame) {
          ctx.writeAndFlush(new PongWebSocketFrame(frame.content().retain()));
        } else if (frame instanceof CloseWebSocketFrame) {
          handler.onCompleted(); // the handler answers with its own close frame
        }
        // a pong: nothing to do
      } finally {
        frame.release();
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (ctx.channel().isWritable()) {
        onReady.run();
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      boolean ours = ending;
      ending = true;
      waiting.clear();
      if (!ours) {
        handler.onError(Status.UNAVAILABLE.withDescription("the browser's connection closed").asRuntimeException());
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (cause instanceof TooLongFrameException || (cause instanceof CorruptedWebSocketFrameException corrupted
          && corrupted.closeStatus() != null
          && corrupted.closeStatus().code() == WebSocketCloseStatus.MESSAGE_TOO_BIG.code())) {
        handler.oversized(maxMessageBytes);
      } else if (cause instanceof CorruptedWebSocketFrameException) {
        handler.unreadable("a frame that breaks the WebSocket protocol (" + cause.getMessage() + ")");
      } else if (!ending) {
        ending = true;
        handler.onError(Status.UNAVAILABLE.withDescription("the browser's connection failed: " + cause)
            .asRuntimeException());
        ctx.close();
      }
    }
  }
}
