package dev.entanglement.hibernate;

import java.util.Optional;
import org.hibernate.SessionFactory;

/**
 * How {@link Entanglement#of} finds the node of a SessionFactory: implemented by the plugin
 * itself and found through {@link java.util.ServiceLoader}, so that the public API does not
 * depend on the plugin's internals. Applications neither implement nor call it.
 */
public interface EntanglementProvider {
  /** The running node of this SessionFactory, if the plugin runs for it. */
  Optional<Entanglement> nodeOf(SessionFactory sessionFactory);
}
