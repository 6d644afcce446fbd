package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.hibernate.tls.Fingerprints;
import io.grpc.netty.shaded.io.netty.handler.ssl.OpenSslCertificateException;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Decides whether a peer's certificate is trusted: its SHA-256 fingerprint is pinned, or its
 * chain leads to one of the trusted CAs. Host names are not checked: a node is identified by its
 * certificate, and the name it claims in its Hello must be the certificate's (checked after the
 * handshake). It does not log: a refusal's exception carries the whole reason (subject,
 * fingerprint, which trust failed), and the end that knows the peer's address logs it once
 * ({@link ConnectionWatch} when accepting, {@link Dialer} when dialing). The exception tells the
 * TLS stack to answer with an "unknown CA" alert, so the refused peer learns that its certificate
 * was not trusted rather than of an internal error. Immutable; thread-safe.
 */
final class PeerTrust extends X509ExtendedTrustManager {
  /** How every refusal's message starts; {@link Dialer} recognizes it in a failure's causes. */
  static final String REFUSAL = "the certificate ";
  /** OpenSSL's X509_V_ERR_CERT_UNTRUSTED: BoringSSL answers it with an "unknown CA" alert. */
  private static final int CERT_UNTRUSTED = 27;

  private final String nodeName;
  private final Set<String> pinned;
  private final Set<TrustAnchor> anchors = new HashSet<>();

  PeerTrust(String nodeName, List<X509Certificate> cas, Set<String> pinned) {
    this.nodeName = nodeName;
    this.pinned = Set.copyOf(pinned);
    for (X509Certificate ca : cas) {
      anchors.add(new TrustAnchor(ca, null));
    }
  }

  String nodeName() {
    return nodeName;
  }

  /**
   * Whether a failed handshake's message is the peer's alert that it does not trust this node's
   * certificate (the alert names of OpenSSL/BoringSSL and of the JDK's TLS stack).
   */
  static boolean distrustAlert(String message) {
    String lower = String.valueOf(message).toLowerCase(Locale.ROOT);
    return lower.contains("unknown_ca") || lower.contains("bad_certificate") || lower.contains("certificate_unknown")
        || lower.contains("unsupported_certificate") || lower.contains("certificate_required");
  }

  private void check(X509Certificate[] chain) throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw refuse(null, "no certificate was presented");
    }
    X509Certificate leaf = chain[0];
    String fingerprint = Fingerprints.sha256(leaf);
    if (pinned.contains(fingerprint)) {
      try {
        leaf.checkValidity();
      } catch (CertificateException e) {
        throw refuse(leaf, "its fingerprint is pinned, but it is not valid now (" + e.getMessage() + ")");
      }
      return;
    }
    if (anchors.isEmpty()) {
      throw refuse(leaf, "its fingerprint is not among entanglement.tls.trusted_fingerprints");
    }
    try {
      PKIXParameters parameters = new PKIXParameters(anchors);
      parameters.setRevocationEnabled(false);
      CertPathValidator.getInstance("PKIX").validate(
          CertificateFactory.getInstance("X.509").generateCertPath(Arrays.asList(chain)), parameters);
    } catch (GeneralSecurityException e) {
      throw refuse(leaf, "it is not signed by a CA of entanglement.tls.trust (" + e.getMessage() + ")"
          + (pinned.isEmpty() ? "" : " and its fingerprint is not among entanglement.tls.trusted_fingerprints"));
    }
  }

  private CertificateException refuse(X509Certificate leaf, String why) {
    String message = leaf == null ? "no certificate: " + why
        : REFUSAL + "(subject %s, SHA-256 fingerprint %s) is not trusted by node '%s': %s".formatted(
            leaf.getSubjectX500Principal().getName(), Fingerprints.sha256(leaf), nodeName, why);
    try {
      return new OpenSslCertificateException(message, CERT_UNTRUSTED);
    } catch (IllegalArgumentException unknownCode) {
      return new CertificateException(message);
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    check(chain);
  }

  /**
   * Empty on purpose: a peer then presents its certificate whoever signed it, so that a refusal
   * happens here, with a log line naming the certificate, rather than as a bare "certificate
   * required" alert (pinned fingerprints have no issuer to list anyway).
   */
  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return new X509Certificate[0];
  }
}
