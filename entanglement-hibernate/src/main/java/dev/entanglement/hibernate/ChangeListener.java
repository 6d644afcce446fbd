package dev.entanglement.hibernate;

/**
 * Hears the changes this node applied from its peers to objects of one entity type, after they
 * committed: to evict a cache, push to the application's own clients, or audit. Writes from peers
 * bypass JPA callbacks, Hibernate event listeners and the second-level cache, so this is the one
 * hook for them.
 *
 * <p>Callbacks run on a plugin thread ({@code entanglement-listeners-NODE}), one at a time per
 * node, in the order the changes committed at this node (so two events of one object always
 * arrive in their order), only after the apply transaction committed: a rolled-back apply fires
 * nothing. Events wait in a queue of {@code entanglement.listeners.queue} events (10,000 by
 * default); when a listener falls that far behind, the node's apply waits for it (backpressure:
 * flow control then holds the peers back), so no event is ever dropped while the node runs. Keep
 * callbacks short, and never wait on the node from one (such as joining an update's future): the
 * apply may be waiting for this thread. An exception thrown by a callback is logged (a WARN per
 * listener class and minute) and does not affect the change, which is already durable, nor the
 * other listeners. See docs/listeners.md.
 *
 * @param <T> the entity type registered with {@link Entanglement#addChangeListener}
 */
@FunctionalInterface
public interface ChangeListener<T> {
  /** One change from a peer committed at this node. */
  void changed(ChangeEvent<T> event);
}
