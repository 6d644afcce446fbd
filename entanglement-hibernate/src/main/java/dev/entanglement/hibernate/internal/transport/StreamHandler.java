package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.proto.v1.Envelope;
import io.grpc.stub.CallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.security.cert.X509Certificate;

/**
 * What the transport drives for one replication stream, whichever side opened it: the transport
 * owns channels, servers and TLS; the implementation (in the peer package) owns the protocol.
 * Received envelopes arrive through {@link StreamObserver#onNext}, one at a time, on a transport
 * thread; implementations must only hand work off there.
 */
public interface StreamHandler extends StreamObserver<Envelope> {
  /**
   * Installs the outbound observer. Called during gRPC's initial call (server: inside the
   * service method; client: in beforeStart), before any other call.
   */
  void attach(CallStreamObserver<Envelope> outbound);

  /** The certificate the peer presented in the TLS handshake (null in-process or plaintext). */
  void peerCertificate(X509Certificate certificate);

  /** The dialer's first move, once the call has started: introduce this node. */
  void sendHello();

  /**
   * A received message could not be parsed (random bytes, nesting beyond protobuf's limit): the
   * stream is to end naming {@code problem}. Transport thread; hand off only.
   */
  void unreadable(String problem);

  /**
   * The peer is sending a message larger than {@code limit} bytes (entanglement.peer.max_message_bytes):
   * the stream is to end with RESOURCE_EXHAUSTED naming the limit. Transport thread; hand off only.
   */
  void oversized(long limit);

  /** The peer's name once its Hello was accepted, null before (and if it was refused). */
  String peerName();

  /** Creates the handler of each new stream; implemented by the node, thread-safe. */
  interface Factory<H extends StreamHandler> {
    /** This node's name, for log lines. */
    String nodeName();

    /**
     * A handler for a new stream.
     *
     * @param dialer whether this node opened the stream (it sends Hello first)
     * @param address the peer's address as dialed, or a description of the inbound call
     */
    H newStream(boolean dialer, String address);

    /**
     * A handler for a browser's stream (a WebSocket on {@code entanglement.web.listen}), the
     * browser already identified by the application as the peer {@code peerName}.
     *
     * @param address a description of the connection (the browser's address)
     */
    default H newBrowserStream(String peerName, String address) {
      throw new UnsupportedOperationException("this node does not serve browsers");
    }
  }
}
