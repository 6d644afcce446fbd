package dev.entanglement.hibernate.internal.transport;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Hands the certificate a peer presented in the TLS handshake to its {@link StreamHandler}: on
 * the server through the call's context, on the dialing side from the call's attributes once the
 * response headers (which follow the handshake) arrive. Stateless.
 */
public final class TlsIdentity {
  /** The verified certificate of the peer of the current server call, if it used TLS. */
  public static final Context.Key<X509Certificate> PEER_CERTIFICATE = Context.key("entanglement-peer-certificate");
  /** The remote address of the current server call, for log lines. */
  public static final Context.Key<String> REMOTE_ADDRESS = Context.key("entanglement-remote-address");
  /** The connection a dialed call belongs to. */
  public static final CallOptions.Key<StreamHandler> CONNECTION = CallOptions.Key.create("entanglement-connection");

  private TlsIdentity() {}

  static X509Certificate leaf(SSLSession session) {
    if (session == null) {
      return null;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x509 ? x509 : null;
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
  }

  /** Server side: puts the peer's certificate into the call's context. */
  static ServerInterceptor serverInterceptor() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        X509Certificate certificate = leaf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
        Context context = Context.current().withValue(REMOTE_ADDRESS,
            String.valueOf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR)).replaceFirst("^/", ""));
        if (certificate != null) {
          context = context.withValue(PEER_CERTIFICATE, certificate);
        }
        return Contexts.interceptCall(context, call, headers, next);
      }
    };
  }

  /** Dialing side: tells the call's connection the server's certificate. */
  static ClientInterceptor clientInterceptor() {
    return new ClientInterceptor() {
      @Override
      public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
        StreamHandler connection = options.getOption(CONNECTION);
        ClientCall<Q, R> call = next.newCall(method, options);
        if (connection == null) {
          return call;
        }
        return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
          @Override
          public void start(Listener<R> listener, Metadata headers) {
            ClientCall<Q, R> self = this;
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
              @Override
              public void onHeaders(Metadata responseHeaders) {
                connection.peerCertificate(leaf(self.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION)));
                super.onHeaders(responseHeaders);
              }
            }, headers);
          }
        };
      }
    };
  }
}
