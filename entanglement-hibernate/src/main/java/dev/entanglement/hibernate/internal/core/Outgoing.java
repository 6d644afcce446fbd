package dev.entanglement.hibernate.internal.core;

import dev.entanglement.proto.v1.Change;

/**
 * A committed change ready for the outboxes: the encoded wire form plus what the outbox needs to
 * coalesce and order it. Immutable, shared by every peer's outbox.
 *
 * @param key the object, as {@code entity + '#' + id}; changes with the same key coalesce
 * @param priority lower is sent first
 * @param coalesce whether a later change of the same object may replace this one unsent
 */
public record Outgoing(String key, int priority, boolean coalesce, Change change) {}
