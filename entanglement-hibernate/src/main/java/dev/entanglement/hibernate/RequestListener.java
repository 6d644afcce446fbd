package dev.entanglement.hibernate;

/**
 * Hears the final outcome of every update request this node made: through {@link
 * Entanglement#update}, {@link Entanglement#delete} and {@link Entanglement#create}, through an
 * ordinary JPA transaction that changed another node's object (which has no future to wait on),
 * and requests reloaded from the database after a restart. Called once per request on a plugin
 * thread, never the thread that committed; one call at a time, in the order outcomes arrive. An
 * exception thrown by a listener is logged and does not affect the request or other listeners.
 * Outcomes that settle while no listener is registered (requests reloaded at boot) are kept, up to
 * 10,000, and handed to the first listener added, on the thread that adds it.
 */
@FunctionalInterface
public interface RequestListener {
  void requestSettled(RequestEvent event);
}
