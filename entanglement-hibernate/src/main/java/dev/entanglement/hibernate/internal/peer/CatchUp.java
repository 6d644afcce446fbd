package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Envelope;

/**
 * The progress of sending one owner's changed objects from the database to a peer that was
 * away: read in chunks, in serial order, as the outbox drains, so that a large catch-up costs
 * memory for one chunk, not for everything changed.
 *
 * <h2>Concurrency</h2>
 * Not thread-safe: confined to the peer's serial executor (a chunk is read on the pool, and its
 * result handed back to the serial executor).
 */
final class CatchUp {
  final String owner;
  /** Whether this is a full synchronization bracketed by markers. */
  final boolean full;
  /** Whether the receiver removes the owner's objects it did not receive (full only). */
  final boolean sweep;
  /** Whether the receiver compares what it holds with what it receives, and repairs (full only). */
  final boolean verify;
  /** The peer's resync request this answers, or 0. */
  final long resyncRequestId;
  /** The highest serial read so far: everything of the owner up to it is in the outbox or sent. */
  long cursor;
  /**
   * Where the peer was when this started (its position of the owner), or -1 for a full
   * synchronization: a state denied to the peer is withdrawn if the one it may hold (the first
   * change after this replaced) was allowed; a full synchronization's sweep removes it instead.
   */
  final long from;
  boolean reading;
  boolean readAll;
  boolean endSent;
  long objectsRead;
  /**
   * A full synchronization's start marker held back from a browser that was never shown the owner:
   * sent before the first object of the owner that goes to it; null once sent (or for a node).
   */
  Envelope heldStart;

  CatchUp(String owner, long after, boolean full, boolean sweep, long resyncRequestId) {
    this(owner, after, full, sweep, false, resyncRequestId);
  }

  CatchUp(String owner, long after, boolean full, boolean sweep, boolean verify, long resyncRequestId) {
    this.verify = verify;
    this.owner = owner;
    this.cursor = after;
    this.from = full ? -1 : after;
    this.full = full;
    this.sweep = sweep;
    this.resyncRequestId = resyncRequestId;
  }
}
