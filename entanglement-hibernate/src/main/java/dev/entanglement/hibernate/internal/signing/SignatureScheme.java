package dev.entanglement.hibernate.internal.signing;

import java.security.Key;

/** The JCA signature algorithm of a key type the node certificates may have (EC, RSA, Ed25519). Stateless. */
public final class SignatureScheme {
  private SignatureScheme() {}

  /** The algorithm for a key, or null for a key type signed state does not support. */
  public static String algorithm(Key key) {
    return switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      case "Ed25519", "EdDSA" -> "Ed25519";
      default -> null;
    };
  }
}
