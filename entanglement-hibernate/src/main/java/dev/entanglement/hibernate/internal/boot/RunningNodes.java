package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementProvider;
import java.util.Optional;
import org.hibernate.SessionFactory;

/**
 * Finds the running node of a SessionFactory for {@link Entanglement#of} (registered in
 * {@code META-INF/services}), so that the public API does not depend on the internals.
 */
public final class RunningNodes implements EntanglementProvider {
  @Override
  public Optional<Entanglement> nodeOf(SessionFactory sessionFactory) {
    NodeRuntime node = NodeRuntime.of(sessionFactory);
    return node == null || !node.running() ? Optional.empty() : Optional.of(node.api);
  }
}
