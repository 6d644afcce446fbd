package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.ReplicationGrpc;
import io.grpc.BindableService;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.InputStream;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The server side of {@code entanglement.v1.Replication}: every accepted Exchange call becomes a
 * {@link StreamHandler} (made by the node's factory) that waits for the peer's Hello. Stateless;
 * thread-safe.
 *
 * <p>It binds the Exchange method itself, with a request marshaller that never throws: a message
 * protobuf cannot parse (random bytes, nesting beyond protobuf's recursion limit of 100) reaches
 * the handler as {@link StreamHandler#unreadable}, which ends the stream with a status naming the
 * problem. gRPC's own marshaller throws instead, which closes the call with a generic
 * "Application error processing RPC", logs a stack trace and never tells the handler.
 */
public final class ReplicationService implements BindableService {
  private static final MethodDescriptor.Marshaller<Envelope> ENVELOPES = ProtoUtils.marshaller(Envelope.getDefaultInstance());

  /** Makes the handler of a new inbound stream (the argument: the remote address). */
  private final Function<String, StreamHandler> open;
  /** Tells the node of a handler whose call is set up. */
  private final Consumer<StreamHandler> accepted;
  private final int maxMessageBytes;

  /**
   * @param handlers makes the handler of each accepted stream
   * @param accepted told of every new inbound handler, so the node can close it at shutdown
   * @param maxMessageBytes the largest message a peer may send (entanglement.peer.max_message_bytes)
   */
  public <H extends StreamHandler> ReplicationService(StreamHandler.Factory<H> handlers, Consumer<? super H> accepted,
      int maxMessageBytes) {
    this.open = address -> handlers.newStream(false, address);
    // the handlers given to it are the factory's own, made by open: of type H
    @SuppressWarnings("unchecked")
    Consumer<StreamHandler> announce = handler -> accepted.accept((H) handler);
    this.accepted = announce;
    this.maxMessageBytes = maxMessageBytes;
  }

  /** The largest message a peer may send; the server refuses larger ones (see {@link InboundSizeGuard}). */
  public int maxMessageBytes() {
    return maxMessageBytes;
  }

  @Override
  public ServerServiceDefinition bindService() {
    MethodDescriptor<Envelope, Envelope> exchange = ReplicationGrpc.getExchangeMethod();
    MethodDescriptor<Inbound, Envelope> tolerant = exchange.toBuilder(new InboundMarshaller(),
        exchange.getResponseMarshaller()).build();
    return ServerServiceDefinition.builder(ReplicationGrpc.SERVICE_NAME)
        .addMethod(tolerant, ServerCalls.asyncBidiStreamingCall(this::exchange))
        .build();
  }

  private StreamObserver<Inbound> exchange(StreamObserver<Envelope> responseObserver) {
    ServerCallStreamObserver<Envelope> out = (ServerCallStreamObserver<Envelope>) responseObserver;
    String remote = TlsIdentity.REMOTE_ADDRESS.get();
    StreamHandler handler = open.apply(remote == null ? "inbound stream" : remote);
    handler.peerCertificate(TlsIdentity.PEER_CERTIFICATE.get());
    out.disableAutoRequest();
    // gRPC may end the call itself (after a failure of its own) and then tells only this
    // handler, not onError: without it the handler would count as connected until the peer's
    // heartbeat timeout. After the handler's own ending it is a no-op.
    out.setOnCloseHandler(() -> handler.onError(Status.CANCELLED
        .withDescription("the call was closed by gRPC").asRuntimeException()));
    handler.attach(out);
    InboundSizeGuard.Tracker size = InboundSizeGuard.current();
    if (size != null) {
      size.onOversized(handler::oversized);
    }
    out.request(1); // the Hello; the apply window is granted once the peer is known
    accepted.accept(handler);
    return new StreamObserver<>() {
      @Override
      public void onNext(Inbound message) {
        if (message.problem() != null) {
          handler.unreadable(message.problem());
        } else {
          handler.onNext(message.envelope());
        }
      }

      @Override
      public void onError(Throwable t) {
        handler.onError(t);
      }

      @Override
      public void onCompleted() {
        handler.onCompleted();
      }
    };
  }

  /** A received message: the envelope, or why it could not be parsed. */
  record Inbound(Envelope envelope, String problem) {}

  /** Parses with protobuf's marshaller; a failure becomes an {@link Inbound} naming it. */
  private static final class InboundMarshaller implements MethodDescriptor.Marshaller<Inbound> {
    @Override
    public InputStream stream(Inbound value) {
      return ENVELOPES.stream(value.envelope());
    }

    @Override
    public Inbound parse(InputStream stream) {
      try {
        return new Inbound(ENVELOPES.parse(stream), null);
      } catch (StatusRuntimeException e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        return new Inbound(null, "a message that is not a valid Envelope (" + cause.getMessage() + ")");
      }
    }
  }
}
