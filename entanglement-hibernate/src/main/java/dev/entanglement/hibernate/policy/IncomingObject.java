package dev.entanglement.hibernate.policy;

/**
 * A received change or request constructed as an object, before it is written: the second
 * receive stage, which can compare with the stored state and follow relationships. The objects
 * are detached copies; changing them changes nothing. Immutable.
 *
 * @param message the message it was constructed from
 * @param incoming the object as it would be written, or null for a deletion
 * @param stored the object as this node holds it now, or null if it does not exist here
 */
public record IncomingObject(IncomingMessage message, Object incoming, Object stored) {}
