package dev.entanglement.hibernate.policy;

/**
 * The peer a decision is about, as this node verified it. Immutable.
 *
 * @param name the node name the peer introduced itself with, or for a browser the name the
 *     application's {@link dev.entanglement.hibernate.web.BrowserIdentity} gave it
 * @param fingerprint the SHA-256 fingerprint (lowercase hex) of the certificate the peer
 *     presented over mutual TLS, or null when the connection is in-process or plaintext (and for
 *     browsers, which present none)
 * @param browser whether the peer is a browser connected over {@code entanglement.web.listen}
 *     (it owns nothing persistent: its changes are update requests)
 */
public record Peer(String name, String fingerprint, boolean browser) {
  /** A node peer. */
  public Peer(String name, String fingerprint) {
    this(name, fingerprint, false);
  }

  /** Whether the peer's identity was verified by a certificate. */
  public boolean verified() {
    return fingerprint != null;
  }
}
