package dev.entanglement.hibernate.internal.admin;

import dev.entanglement.hibernate.tls.Fingerprints;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Set;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.jboss.logging.Logger;

/**
 * Lets an admin call through only with credentials: an admin client certificate whose
 * fingerprint is configured, or the bearer token ({@code authorization: Bearer <token>}). No or
 * unreadable credentials: {@code UNAUTHENTICATED}; wrong ones: {@code PERMISSION_DENIED}. The
 * call is not started, so nothing changes. Health checks and reflection stay open: they reveal
 * the service names only. Immutable.
 */
public final class AdminAccess implements ServerInterceptor {
  private static final Logger LOG = Logger.getLogger(AdminAccess.class);
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String nodeName;
  private final byte[] token;
  private final Set<String> fingerprints;

  public AdminAccess(String nodeName, AdminConfig config) {
    this.nodeName = nodeName;
    this.token = config.token() == null ? null : config.token().getBytes(StandardCharsets.UTF_8);
    this.fingerprints = config.fingerprints();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String service = call.getMethodDescriptor().getServiceName();
    if (service != null && (service.startsWith("grpc.health.") || service.startsWith("grpc.reflection."))) {
      return next.startCall(call, headers);
    }
    String fingerprint = clientFingerprint(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
    if (fingerprint != null && fingerprints.contains(fingerprint)) {
      return next.startCall(call, headers);
    }
    String authorization = headers.get(AUTHORIZATION);
    if (authorization == null || !authorization.startsWith("Bearer ") || authorization.length() <= 7) {
      return refuse(call, Status.UNAUTHENTICATED.withDescription(("admin calls to node '%s' need credentials: an "
          + "'authorization: Bearer <token>' header (entanglement.admin.token) or an admin client certificate "
          + "(entanglement.admin.trusted_fingerprints)").formatted(nodeName)), call.getMethodDescriptor().getFullMethodName());
    }
    byte[] presented = authorization.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    if (token == null || !MessageDigest.isEqual(token, presented)) {
      return refuse(call, Status.PERMISSION_DENIED.withDescription(
          "the admin token presented to node '%s' is not the one configured".formatted(nodeName)),
          call.getMethodDescriptor().getFullMethodName());
    }
    return next.startCall(call, headers);
  }

  private <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Status status, String method) {
    LOG.infof("Node '%s' refused an admin call to %s from %s: %s", nodeName, method,
        call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR), status.getDescription());
    call.close(status, new Metadata());
    return new ServerCall.Listener<>() {};
  }

  private static String clientFingerprint(SSLSession session) {
    if (session == null) {
      return null;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x509 ? Fingerprints.sha256(x509) : null;
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
  }
}
