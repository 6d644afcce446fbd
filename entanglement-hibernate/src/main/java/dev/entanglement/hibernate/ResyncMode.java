package dev.entanglement.hibernate;

/**
 * How a forced resynchronization ({@link Entanglement#resync(String, ResyncMode)}) treats what
 * this node already holds of the peer's objects.
 */
public enum ResyncMode {
  /**
   * The peer sends all its objects again; this node takes those newer than what its bookkeeping
   * says it holds. Cheap: nothing is read here but the bookkeeping.
   */
  RESEND,
  /**
   * As {@link #RESEND}, and this node then removes the peer's objects it holds that the peer no
   * longer has (a sweep).
   */
  CLEAR,
  /**
   * As {@link #CLEAR}, and this node compares every object received with the row it really holds
   * (each replicated column, encoded as on the wire) and rewrites the row when it is missing or
   * differs, even where its bookkeeping says it is current: a repair of rows deleted or altered
   * behind the plugin's back (plain SQL, a restored table). Only the state of the serial this node
   * holds is repaired; a newer state that arrived meanwhile is kept. Reads every row of the peer's
   * objects here.
   */
  VERIFY
}
