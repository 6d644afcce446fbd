package dev.entanglement.hibernate.internal.transport;

import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongConsumer;
import java.util.logging.Logger;

/**
 * Refuses a peer's message larger than {@code entanglement.peer.max_message_bytes} in-band, while
 * it arrives, not once it is buffered whole.
 *
 * <p>gRPC can refuse an oversized message itself, from its 5-byte length prefix, but then it
 * resets the HTTP/2 stream (RST_STREAM CANCEL) once response headers were sent (always, after the
 * Hello), so the peer never learns why, and it logs a stack trace. This tracer instead counts the
 * bytes of the message being received and, past the limit, tells the stream's handler, which ends
 * the call with {@code RESOURCE_EXHAUSTED} naming the limit and the setting (a trailer the peer
 * reads). gRPC's own limit is set to {@link #HARD_LIMIT_FACTOR} times the setting, so that memory
 * stays bounded even before the handler acts: per stream, one message of at most that size is
 * ever held. A message beyond gRPC's limit is refused by gRPC from its length prefix (nothing of
 * it is buffered; the peer sees its stream reset): the tracer hears of it when the stream closes
 * and tells the handler the same way, which logs one line; gRPC's own WARN with a stack trace for
 * it is dropped by a filter on its logger (only for the limits of this plugin's servers).
 *
 * <h2>Concurrency</h2>
 * One {@link Tracker} per call. Its counters are written only by the call's transport thread
 * (gRPC calls a stream's tracer from one thread at a time); {@code oversized}, installed by the
 * service method, is volatile.
 */
public final class InboundSizeGuard extends ServerStreamTracer.Factory {
  /** gRPC's own limit, as a multiple of the setting: a hard bound on what one stream buffers. */
  public static final int HARD_LIMIT_FACTOR = 2;
  private static final Context.Key<Tracker> TRACKER = Context.key("entanglement-inbound-size");
  private static final String EXCEEDS = "gRPC message exceeds maximum size ";
  /** gRPC's logger of refused messages, held so that its filter stays (JUL holds loggers weakly). */
  private static final Logger GRPC_STREAM_LOG = Logger.getLogger("io.grpc.netty.shaded.io.grpc.netty.NettyServerStream");
  /** The "exceeds maximum size N" prefixes of this plugin's servers, whose refusals the handlers log. */
  private static final Set<String> OURS = ConcurrentHashMap.newKeySet();

  static {
    GRPC_STREAM_LOG.setFilter(record -> !(record.getThrown() instanceof StatusRuntimeException refused
        && refused.getStatus().getDescription() != null
        && OURS.stream().anyMatch(refused.getStatus().getDescription()::startsWith)));
  }

  private final int limit;

  public InboundSizeGuard(int limit) {
    this.limit = limit;
    OURS.add(EXCEEDS + hardLimit(limit) + ":");
  }

  /** gRPC's limit for this setting: a message beyond it is refused from its length prefix. */
  public static int hardLimit(int limit) {
    return (int) Math.min(Integer.MAX_VALUE, (long) limit * HARD_LIMIT_FACTOR);
  }

  /** The tracker of the current call (in the service method), or null without this guard. */
  static Tracker current() {
    return TRACKER.get();
  }

  @Override
  public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
    return new Tracker(limit);
  }

  /** Counts the bytes of the message a call is receiving. */
  static final class Tracker extends ServerStreamTracer {
    private final int limit;
    private long current;
    private boolean tripped;
    private volatile LongConsumer oversized;

    Tracker(int limit) {
      this.limit = limit;
    }

    /** Whom to tell (with the limit) when a message goes past it; called at most once. */
    void onOversized(LongConsumer oversized) {
      this.oversized = oversized;
    }

    @Override
    public Context filterContext(Context context) {
      return context.withValue(TRACKER, this);
    }

    @Override
    public void streamClosed(Status status) {
      // gRPC refused a message beyond its (hard) limit from its length prefix
      String description = status.getDescription();
      if (status.getCode() == Status.Code.RESOURCE_EXHAUSTED && description != null && description.startsWith(EXCEEDS)) {
        trip();
      }
    }

    @Override
    public void inboundMessage(int seqNo) {
      current = 0; // the length prefix of the next message was read; its body follows
    }

    @Override
    public void inboundWireSize(long bytes) {
      current += bytes;
      if (current > limit) {
        trip();
      }
    }

    private void trip() {
      LongConsumer told = oversized;
      if (told != null && !tripped) {
        tripped = true;
        told.accept(limit);
      }
    }
  }
}
