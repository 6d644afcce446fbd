package dev.entanglement.hibernate.policy;

/**
 * The peer a decision is about, as this node verified it. Immutable.
 *
 * @param name the node name the peer introduced itself with
 * @param fingerprint the SHA-256 fingerprint (lowercase hex) of the certificate the peer
 *     presented over mutual TLS, or null when the connection is in-process or plaintext
 */
public record Peer(String name, String fingerprint) {
  /** Whether the peer's identity was verified by a certificate. */
  public boolean verified() {
    return fingerprint != null;
  }
}
