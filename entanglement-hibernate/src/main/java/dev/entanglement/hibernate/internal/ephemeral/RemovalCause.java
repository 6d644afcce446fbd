package dev.entanglement.hibernate.internal.ephemeral;

/** Why an ephemeral object disappeared at a node. */
enum RemovalCause {
  /** Its owner removed it (here, or received). */
  REMOVED,
  /** The peer it came from lost its way to the owner. */
  PATH_LOST,
  /** The stream it came over ended. */
  SOURCE_ENDED,
  /** An operator removed its owner. */
  OWNER_REMOVED,
  /** Its time to live passed without a newer state. */
  EXPIRED
}
