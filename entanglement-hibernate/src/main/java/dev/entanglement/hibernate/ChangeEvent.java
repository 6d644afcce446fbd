package dev.entanglement.hibernate;

import java.util.Optional;

/**
 * One change applied at this node from a peer, as heard by a {@link ChangeListener}. Immutable.
 *
 * @param kind what happened to the row
 * @param entityType the entity class of the object
 * @param id the object's id
 * @param owner the object's owner node when the change committed
 * @param fromPeer the connected peer the change arrived from (a relay, or the owner itself); null
 *     when no peer is involved: an operator's owner removal, or a parked change applied on retry
 * @param entity the object's row, detached, for {@link Kind#INSERTED} and {@link Kind#UPDATED}:
 *     read just before the listeners are called, so a later committed change of the object shows
 *     (its event follows), and empty when the row is gone by then; empty for {@link Kind#REMOVED}
 *     and {@link Kind#WITHDRAWN}. Lazy associations are not initialised
 * @param <T> the entity type
 */
public record ChangeEvent<T>(Kind kind, Class<T> entityType, Object id, String owner,
    String fromPeer, Optional<T> entity) {

  /** What a change did to this node's copy. */
  public enum Kind {
    /** The object is new at this node. */
    INSERTED,
    /** The object's state changed. */
    UPDATED,
    /** The owner deleted the object (or a sweep removed it), so this node's row is gone. */
    REMOVED,
    /** The object is no longer shared with this node (a policy now denies it): its row is gone. */
    WITHDRAWN
  }
}
