package dev.entanglement.hibernate;

/**
 * Hears the changes this node applied from its peers to objects of one entity type, after they
 * committed: to evict a cache, push to the application's own clients, or audit. Writes from peers
 * bypass JPA callbacks, Hibernate event listeners and the second-level cache, so this is the one
 * hook for them.
 *
 * <p>Callbacks run on a plugin thread, one at a time per node, in the order the changes committed
 * (so two events of one object always arrive in their order). They must not block for long: a slow
 * listener delays the others, never the apply. An exception thrown by a callback is logged (once
 * per listener and interval) and does not affect the change, which is already durable.
 *
 * @param <T> the entity type registered with {@link Entanglement#addChangeListener}
 */
@FunctionalInterface
public interface ChangeListener<T> {
  /** One change from a peer committed at this node. */
  void changed(ChangeEvent<T> event);
}
