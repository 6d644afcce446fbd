package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.hibernate.tls.Fingerprints;
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
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import org.jboss.logging.Logger;

/**
 * Decides whether a peer's certificate is trusted: its SHA-256 fingerprint is pinned, or its
 * chain leads to one of the trusted CAs. Host names are not checked: a node is identified by its
 * certificate, and the name it claims in its Hello must be the certificate's (checked after the
 * handshake). Every refusal is logged at WARN with the peer's address, subject and fingerprint.
 * Immutable; thread-safe.
 */
final class PeerTrust extends X509ExtendedTrustManager {
  private static final Logger LOG = Logger.getLogger(PeerTrust.class);

  private final String nodeName;
  private final List<X509Certificate> cas;
  private final Set<String> pinned;
  private final Set<TrustAnchor> anchors = new HashSet<>();

  PeerTrust(String nodeName, List<X509Certificate> cas, Set<String> pinned) {
    this.nodeName = nodeName;
    this.cas = cas;
    this.pinned = Set.copyOf(pinned);
    for (X509Certificate ca : cas) {
      anchors.add(new TrustAnchor(ca, null));
    }
  }

  String nodeName() {
    return nodeName;
  }

  private void check(X509Certificate[] chain, String role, String address) throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw refuse(role, address, null, "it presented no certificate");
    }
    X509Certificate leaf = chain[0];
    String fingerprint = Fingerprints.sha256(leaf);
    if (pinned.contains(fingerprint)) {
      leaf.checkValidity();
      return;
    }
    if (anchors.isEmpty()) {
      throw refuse(role, address, leaf, "its fingerprint is not among entanglement.tls.trusted_fingerprints");
    }
    try {
      PKIXParameters parameters = new PKIXParameters(anchors);
      parameters.setRevocationEnabled(false);
      CertPathValidator.getInstance("PKIX").validate(
          CertificateFactory.getInstance("X.509").generateCertPath(Arrays.asList(chain)), parameters);
    } catch (GeneralSecurityException e) {
      throw refuse(role, address, leaf, "it is not signed by a CA of entanglement.tls.trust ("
          + e.getMessage() + ")" + (pinned.isEmpty() ? "" : " and its fingerprint is not pinned"));
    }
  }

  private CertificateException refuse(String role, String address, X509Certificate leaf, String why) {
    String who = leaf == null ? "" : " (subject %s, SHA-256 fingerprint %s)".formatted(
        leaf.getSubjectX500Principal().getName(), Fingerprints.sha256(leaf));
    String message = "node '%s' refused the certificate of the %s at %s%s: %s".formatted(nodeName, role, address, who, why);
    if (QuietLog.first(message.replaceAll(":[0-9]+", ""))) {
      LOG.warn(message + " (repeats of this refusal are logged at DEBUG for a minute)");
    } else {
      LOG.debug(message);
    }
    return new CertificateException(message);
  }

  private static String address(SSLEngine engine) {
    return engine == null || engine.getPeerHost() == null ? "an unknown address"
        : engine.getPeerHost() + ":" + engine.getPeerPort();
  }

  private static String address(Socket socket) {
    return socket == null ? "an unknown address" : String.valueOf(socket.getRemoteSocketAddress());
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    check(chain, "peer dialing in", address(engine));
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    check(chain, "peer dialed", address(engine));
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    check(chain, "peer dialing in", address(socket));
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    check(chain, "peer dialed", address(socket));
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    check(chain, "peer dialing in", "an unknown address");
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    check(chain, "peer dialed", "an unknown address");
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
