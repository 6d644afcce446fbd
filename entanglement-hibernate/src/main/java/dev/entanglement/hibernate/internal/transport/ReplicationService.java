package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.PeerHost;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.ReplicationGrpc;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.function.Consumer;

/**
 * The server side of {@code entanglement.v1.Replication}: every accepted Exchange call becomes a
 * {@link PeerConnection} that waits for the peer's Hello. Stateless; thread-safe.
 */
public final class ReplicationService extends ReplicationGrpc.ReplicationImplBase {
  private final PeerHost host;
  private final Consumer<PeerConnection> accepted;

  /** @param accepted told of every new inbound connection, so the node can close it at shutdown */
  public ReplicationService(PeerHost host, Consumer<PeerConnection> accepted) {
    this.host = host;
    this.accepted = accepted;
  }

  @Override
  public StreamObserver<Envelope> exchange(StreamObserver<Envelope> responseObserver) {
    ServerCallStreamObserver<Envelope> out = (ServerCallStreamObserver<Envelope>) responseObserver;
    String remote = TlsIdentity.REMOTE_ADDRESS.get();
    PeerConnection connection = new PeerConnection(host, false, remote == null ? "inbound stream" : remote);
    connection.peerCertificate(TlsIdentity.PEER_CERTIFICATE.get());
    out.disableAutoRequest();
    connection.attach(out);
    out.request(1); // the Hello; the apply window is granted once the peer is known
    accepted.accept(connection);
    return connection;
  }
}
