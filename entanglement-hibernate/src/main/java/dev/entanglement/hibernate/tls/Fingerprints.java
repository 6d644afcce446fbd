package dev.entanglement.hibernate.tls;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.Locale;

/** A node's identity: the SHA-256 fingerprint of its certificate, as lowercase hex without colons. */
public final class Fingerprints {
  private Fingerprints() {}

  public static String sha256(X509Certificate certificate) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
    } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
      throw new IllegalStateException("cannot fingerprint the certificate of " + certificate.getSubjectX500Principal(), e);
    }
  }

  /**
   * A fingerprint as written by people or tools (colons, spaces, upper case) in the canonical
   * form, or null if it is not 64 hex digits.
   */
  public static String normalize(String text) {
    String hex = text.replace(":", "").replace(" ", "").toLowerCase(Locale.ROOT);
    return hex.matches("[0-9a-f]{64}") ? hex : null;
  }
}
