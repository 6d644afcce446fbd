package dev.entanglement.hibernate;

/**
 * Who a connected peer is, as this node established it. Over mutual TLS the peer's identity is
 * its certificate's SHA-256 fingerprint, and the node name it introduced itself with was checked
 * against the certificate (subject CN or a DNS name) before anything was exchanged. In-process
 * and plaintext connections carry only the claimed name. Immutable.
 *
 * @param name the node name the peer introduced itself with in its Hello
 * @param fingerprint the SHA-256 fingerprint (lowercase hex, no colons) of the certificate the
 *     peer presented, or null when the connection is in-process or plaintext
 * @param subject the distinguished name of that certificate's subject (RFC 2253), or null
 *     without a certificate
 */
public record PeerIdentity(String name, String fingerprint, String subject) {
  /** A peer known only by the name it claimed (in-process or plaintext). */
  public static PeerIdentity unverified(String name) {
    return new PeerIdentity(name, null, null);
  }

  /** Whether a certificate verified in the TLS handshake vouches for the name. */
  public boolean verified() {
    return fingerprint != null;
  }
}
