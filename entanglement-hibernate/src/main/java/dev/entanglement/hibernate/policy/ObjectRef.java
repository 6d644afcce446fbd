package dev.entanglement.hibernate.policy;

/**
 * An object a send decision is about. Cheap to pass around: the entity is read from the
 * database only when {@link #entity()} is called, so decide by type, id and owner where you can.
 */
public interface ObjectRef {
  /**
   * The entity class; for an ephemeral object, its record class (null at a node that has not
   * registered the type and relays it undecoded).
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
   * The object as this node holds it now (a detached copy), or null if it does not exist here;
   * for an ephemeral object, the record being sent (null for a removal or an unregistered type).
   */
  Object entity();
}
