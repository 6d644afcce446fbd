package dev.entanglement.hibernate;

/** Why an owner, or a node on the way, refused an update request or a change. */
public enum RefusalReason {
  /** A required field is missing or a value cannot be read. */
  MALFORMED,
  /** The receiver has no replicated entity of that name. */
  UNKNOWN_ENTITY,
  /** An attribute the receiver does not know. */
  UNKNOWN_ATTRIBUTE,
  /** A value whose kind does not fit the attribute's type. */
  WRONG_TYPE,
  /** The owner's database refused the change (unique, not-null, foreign key...). */
  CONSTRAINT_VIOLATION,
  /** A policy refused it. */
  POLICY,
  /** The node asked does not own the object (any more). */
  NOT_OWNER,
  /** An unexpected failure at the owner, logged there. */
  INTERNAL,
  /** The change references an object the owner does not have. */
  MISSING_REFERENCE,
  /**
   * Signed state: no signature where one is required, a signature that does not verify, an
   * unknown signer, or a signer that is not the owner (or origin) the message names.
   */
  SIGNATURE,
  /** The origin a request or transition claims is not the authenticated peer it came from (nor vouched for by a relay). */
  ORIGIN,
  /** A reason this version does not know (a newer peer). */
  OTHER;

  /** The reason of a wire name; {@link #OTHER} for a name this version does not know. */
  public static RefusalReason named(String name) {
    for (RefusalReason reason : values()) {
      if (reason.name().equals(name)) {
        return reason;
      }
    }
    return OTHER;
  }
}
