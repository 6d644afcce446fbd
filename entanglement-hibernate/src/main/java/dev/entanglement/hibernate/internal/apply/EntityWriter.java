package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.apply.InboundApplier.Hooks;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.model.PropertyCodec;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.RejectReason;
import org.hibernate.StatelessSession;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.persister.entity.EntityPersister;

/**
 * Writes one received state of an entity through Hibernate (or deletes it), in the caller's
 * transaction: decoded onto the stored instance, written through the persister as the owner
 * decided it, after the policies' object-stage veto.
 *
 * <p>Immutable, so thread-safe; the session passed in belongs to the caller.
 */
final class EntityWriter {

  /**
   * Writes the change's state of the object (an upsert or a delete).
   *
   * @param peer the peer it came from, or null for a parked change applied on retry (the policies
   *     decided when it was received)
   * @param absent whether the bookkeeping says this node does not have the object: an upsert then
   *     inserts without reading it first
   * @throws DecodeException when the state cannot be decoded or the policies deny it
   */
  void write(StatelessSession session, EntangledType type, Object id, Change change, String peer, Hooks hooks,
      boolean absent) throws DecodeException {
    boolean objectStage = peer != null && hooks.objectStage();
    if (change.getOperation() != Operation.UPSERT) { // a deletion, or a withdrawal (this node may not hold it)
      if (objectStage) {
        Object stored = read(session, type.persister().getEntityName(), id);
        String denial = hooks.deniedObject(peer, type, change, null, stored);
        if (denial != null) {
          throw new DecodeException(RejectReason.POLICY, denial);
        }
      }
      delete(session, type, id);
    } else {
      upsert(session, type, id, change, peer, objectStage, hooks, absent);
    }
  }

  /** Deletes the object if this node has it. */
  void delete(StatelessSession session, EntangledType type, Object id) {
    Object existing = read(session, type.persister().getEntityName(), id);
    if (existing != null) {
      session.delete(existing);
    }
  }

  private void upsert(StatelessSession session, EntangledType type, Object id, Change change, String peer,
      boolean objectStage, Hooks hooks, boolean absent) throws DecodeException {
    EntityPersister persister = type.persister();
    SharedSessionContractImplementor implementor = (SharedSessionContractImplementor) session;
    Object existing = absent ? null : read(session, persister.getEntityName(), id);
    Object stored = null;
    if (objectStage && existing != null) {
      stored = copy(persister, implementor, id, existing.getClass() == persister.getMappedClass()
          ? persister.getValues(existing).clone() : null);
    }
    if (existing != null && existing.getClass() != persister.getMappedClass()) {
      if (objectStage) {
        stored = existing;
      }
      session.delete(existing); // the object's subclass changed at the owner
      existing = null;
    }
    Object target = existing != null ? existing : persister.instantiate(id, implementor);
    Object oldVersion = existing != null && persister.isVersioned() ? persister.getVersion(existing) : null;
    Object[] state = type.decode(change.getAttributesList(), persister.getValues(target),
        PropertyCodec.ReferenceLoader.of(implementor,
            (referenced, referencedId) -> read(session, referenced.persister().getEntityName(), referencedId)));
    if (objectStage) {
      String denial = hooks.deniedObject(peer, type, change, copy(persister, implementor, id, state.clone()), stored);
      if (denial != null) {
        throw new DecodeException(RejectReason.POLICY, denial);
      }
    }
    persister.setValues(target, state);
    // written through the persister as the owner decided it: the id as it is (an insert would
    // generate a new one for @GeneratedValue ids), the version as it is (an update bumps it)
    if (existing == null) {
      persister.getInsertCoordinator().insert(target, id, state, implementor);
    } else {
      persister.getUpdateCoordinator().update(
          target, id, null, state, oldVersion, null, null, false, implementor);
    }
    // the collections it owns, whole, after its row (their rows point at it)
    type.writeCollections(implementor, id, target, state, existing != null, change.getAttributesList());
  }

  /**
   * Reads an entity in the apply transaction, after running the JDBC batch of writes still
   * pending in it: a stateless session's read does not, and would miss an object inserted
   * earlier in the same batch (a later change of it, a reference to it).
   */
  static Object read(StatelessSession session, String entityName, Object id) {
    ((SharedSessionContractImplementor) session).getJdbcCoordinator().executeBatch();
    return session.get(entityName, id);
  }

  /** A detached instance with the given state, for policies to look at. */
  private static Object copy(EntityPersister persister, SharedSessionContractImplementor session, Object id,
      Object[] state) {
    if (state == null) {
      return null;
    }
    Object copy = persister.instantiate(id, session);
    persister.setValues(copy, state);
    return copy;
  }
}
