package dev.entanglement.hibernate.internal.core;

import java.util.List;

/**
 * A chunk of catch-up read from the database: encoded changes of one owner in serial order and
 * how far the read got.
 *
 * @param complete whether nothing of the owner after {@code lastSerial} was left to read
 */
public record CatchUpChunk(List<Outgoing> changes, long lastSerial, boolean complete) {}
