package dev.entanglement.hibernate.policy;

/**
 * An object a send decision is about. Cheap to pass around: the entity is read from the
 * database only when {@link #entity()} is called, so decide by type, id and owner where you can.
 */
public interface ObjectRef {
  /**
   * The entity class; for an ephemeral object, its record class. Null at a node that relays the
   * object undecoded: an ephemeral type it has not registered, or an entity type not deployed
   * there yet (a rolling upgrade; its {@link #id()} is then the id as text, and {@link #entity()}
   * cannot be read: a send decision that reads it is held until the node can decide).
   */
  Class<?> entityType();

  /** The entity name (as on the wire). */
  String entityName();

  Object id();

  /** The node that owns the object (the node it is being handed to, during a hand-over). */
  String owner();

  /** Whether the change is the object's deletion. */
  boolean deleted();

  /**
   * The object as it is being sent (a detached copy decoded from the change, with no read of its
   * row; references are read when the copy is built), or, where no state is being sent (a
   * transition, a request, an operator's question), as this node holds it now, or null if it does
   * not exist here; for an ephemeral object, the record being sent (null for a removal or an
   * unregistered type).
   */
  Object entity();
}
