package dev.entanglement.hibernate;

import java.util.Optional;

/**
 * What this node's bookkeeping says about one object it holds (or held: a tombstone until every
 * peer has the deletion), as {@link Entanglement#describe(Class, Object)} reads it.
 *
 * @param entity the JPA entity name
 * @param id the id as text
 * @param owner the node that decides the object's state (after a hand-over, the new owner)
 * @param serial the owner's serial of the state held here
 * @param epoch the ownership epoch (raised by one at every hand-over)
 * @param deleted whether what is held is the owner's deletion (a tombstone)
 * @param handoverTo the node the object is being handed over to, if a hand-over is under way
 * @param pendingRequests this node's update requests for the object not settled yet
 */
public record ObjectInfo(String entity, String id, String owner, long serial, long epoch, boolean deleted,
    Optional<String> handoverTo, int pendingRequests) {}
