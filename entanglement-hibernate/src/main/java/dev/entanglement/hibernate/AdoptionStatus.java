package dev.entanglement.hibernate;

/**
 * Where the adoption of existing rows of one entity type stands ({@link Entanglement#adopt}):
 * rows present before the plugin, or written behind its back, announced as this node's own
 * objects (docs/adoption.md). Immutable.
 *
 * @param entity the entity type (its JPA name)
 * @param state where the adoption is
 * @param afterId the id of the last row done (the adoption goes on after it, in id order), or null
 * @param scanned rows read so far in this adoption
 * @param announced rows announced: unknown to the plugin's bookkeeping, or changed since the state
 *     it last announced
 * @param skipped rows left as they were: known with the same state, or another node's objects
 * @param removed this node's objects whose rows were deleted behind the plugin's back, announced as
 *     deleted (found once the table is read, in the bookkeeping)
 * @param error why the adoption stopped, for {@link State#FAILED}; else null
 */
public record AdoptionStatus(String entity, State state, String afterId, long scanned, long announced,
    long skipped, long removed, String error) {

  /** Where an adoption is. */
  public enum State {
    /** Going on now. */
    RUNNING,
    /**
     * Begun and not finished, and not going on now (the node stopped, or its member lost the
     * node's links): it resumes after {@code afterId} at the next start or adoption call.
     */
    INTERRUPTED,
    /** Stopped by an error (see {@code error}); resumes after {@code afterId} when called again. */
    FAILED,
    /** Every row was read. */
    DONE
  }

  @Override
  public String toString() {
    return "%s %s: %d rows read, %d announced, %d skipped, %d removed%s%s".formatted(entity, state, scanned, announced,
        skipped, removed,
        afterId == null || state == State.DONE ? "" : ", after id " + afterId, error == null ? "" : " (" + error + ")");
  }
}
