package dev.entanglement.hibernate;

/**
 * The final outcome of one update request of this node (see {@link RequestListener}). Immutable.
 *
 * @param entityType the entity class of the object, or null when this node no longer has it
 * @param id the object's id (null when {@code entityType} is null; see {@code idText})
 * @param idText the object's id as text, as in the plugin's tables
 * @param owner the node the request was for
 * @param kind what was asked
 * @param outcome how it ended
 * @param failure the typed reason for every outcome but {@link Outcome#APPLIED}, else null
 * @param requestKey the request's globally unique key, the same on every hop and every retry
 */
public record RequestEvent(Class<?> entityType, Object id, String idText, String owner, Kind kind,
    Outcome outcome, UpdateRequestException failure, String requestKey) {

  /** What a request asks of the owner. */
  public enum Kind {
    UPDATE,
    CREATE,
    DELETE
  }

  /** How a request ended. */
  public enum Outcome {
    /** The owner applied it. */
    APPLIED,
    /** The owner (or a node on the way) refused it, or the object was not found or had moved on. */
    REFUSED,
    /** Never sent within {@code entanglement.request.lifetime}: no route to the owner. */
    FAILED,
    /** Sent, but no final answer came within the lifetime: the owner may have applied it. */
    OUTCOME_UNKNOWN
  }
}
