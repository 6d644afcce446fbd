package dev.entanglement.hibernate;

import java.util.Map;

/**
 * Something happened to a transition of an object: provisional values arrived, or the
 * transition ended or broke. Immutable.
 *
 * @param entityType the entity class of the object
 * @param id the object's id
 * @param origin the node that started the transition
 * @param transitionId the transition's id, unique at its origin
 * @param values the provisional values by attribute name (for ENDED and BROKEN, the last ones)
 */
public record TransitionEvent(Class<?> entityType, Object id, String origin, long transitionId,
    Map<String, Object> values) {}
