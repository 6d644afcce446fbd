package dev.entanglement.hibernate.internal.core;

import dev.entanglement.proto.v1.Change;

/**
 * A committed change ready for the outboxes: the encoded wire form plus what the outbox needs to
 * coalesce and order it. Immutable, shared by every peer's outbox.
 *
 * @param key the object, as {@code entity + '#' + id}; changes with the same key coalesce
 * @param priority lower is sent first
 * @param coalesce whether a later change of the same object may replace this one unsent
 * @param previous the object's state before this change, as the sender knew it (the owner's state
 *     before the transaction, a relay's copy before it applied the change), or null when there was
 *     none or it is not known: a peer the policies allowed it may hold the object, so it gets a
 *     withdrawal when the new state is denied (docs/design/withdrawal.md)
 */
public record Outgoing(String key, int priority, boolean coalesce, Change change, Change previous) {
  public Outgoing(String key, int priority, boolean coalesce, Change change) {
    this(key, priority, coalesce, change, null);
  }

  /** The same change, with the state it replaced. */
  public Outgoing withPrevious(Change previous) {
    return new Outgoing(key, priority, coalesce, change, previous);
  }
}
