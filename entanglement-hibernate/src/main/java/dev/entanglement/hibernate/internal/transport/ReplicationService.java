package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.ReplicationGrpc;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The server side of {@code entanglement.v1.Replication}: every accepted Exchange call becomes a
 * {@link StreamHandler} (made by the node's factory) that waits for the peer's Hello. Stateless;
 * thread-safe.
 */
public final class ReplicationService extends ReplicationGrpc.ReplicationImplBase {
  /** Makes the handler of a new inbound stream (the argument: the remote address). */
  private final Function<String, StreamHandler> open;
  /** Tells the node of a handler whose call is set up. */
  private final Consumer<StreamHandler> accepted;

  /**
   * @param handlers makes the handler of each accepted stream
   * @param accepted told of every new inbound handler, so the node can close it at shutdown
   */
  public <H extends StreamHandler> ReplicationService(StreamHandler.Factory<H> handlers, Consumer<? super H> accepted) {
    this.open = address -> handlers.newStream(false, address);
    // the handlers given to it are the factory's own, made by open: of type H
    @SuppressWarnings("unchecked")
    Consumer<StreamHandler> announce = handler -> accepted.accept((H) handler);
    this.accepted = announce;
  }

  @Override
  public StreamObserver<Envelope> exchange(StreamObserver<Envelope> responseObserver) {
    ServerCallStreamObserver<Envelope> out = (ServerCallStreamObserver<Envelope>) responseObserver;
    String remote = TlsIdentity.REMOTE_ADDRESS.get();
    StreamHandler handler = open.apply(remote == null ? "inbound stream" : remote);
    handler.peerCertificate(TlsIdentity.PEER_CERTIFICATE.get());
    out.disableAutoRequest();
    handler.attach(out);
    out.request(1); // the Hello; the apply window is granted once the peer is known
    accepted.accept(handler);
    return handler;
  }
}
