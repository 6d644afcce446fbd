package dev.entanglement.hibernate.internal.store;

import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The digest of an object's replicated state: the first 8 bytes of a SHA-256 over its encoded
 * attributes (not its owner, serial or epoch), kept in {@code entanglement_object.state_digest}
 * so that adoption can tell a row changed behind the plugin's back (bulk HQL or SQL) from one
 * whose state peers already have, without keeping the state itself. Stateless.
 */
public final class StateDigest {
  private static final MessageDigest PROTOTYPE;

  static {
    try {
      PROTOTYPE = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new ExceptionInInitializerError(e); // every Java platform has SHA-256
    }
  }

  private StateDigest() {}

  /** The digest of an UPSERT's attributes; null for a DELETE (nothing to compare). */
  public static Long of(Change change) {
    if (change.getOperation() == dev.entanglement.proto.v1.Operation.DELETE) {
      return null;
    }
    MessageDigest digest;
    try {
      digest = (MessageDigest) PROTOTYPE.clone(); // cheaper than getInstance on the commit path
    } catch (CloneNotSupportedException e) {
      digest = newSha256();
    }
    for (Attribute attribute : change.getAttributesList()) {
      digest.update(attribute.toByteArray());
    }
    byte[] hash = digest.digest();
    long value = 0;
    for (int i = 0; i < 8; i++) {
      value = (value << 8) | (hash[i] & 0xff);
    }
    return value;
  }

  private static MessageDigest newSha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
