package dev.entanglement.hibernate.spring;

import dev.entanglement.hibernate.ChangeListener;
import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.RequestListener;
import dev.entanglement.hibernate.TransitionListener;
import dev.entanglement.hibernate.policy.Policy;
import java.util.ArrayList;
import java.util.List;
import org.jboss.logging.Logger;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.core.ResolvableType;

/**
 * Runs the node's network side in Boot's lifecycle: at start it registers the application's
 * policy and listener beans, then opens the servers and dials the peers
 * ({@link Entanglement#serve()}); at stop it closes them ({@link Entanglement#stopServing()})
 * before the EntityManagerFactory closes. The starter sets {@code entanglement.serve.at_boot=false}
 * so nothing listens before the context is ready.
 *
 * <h2>Concurrency</h2>
 * Called by Spring's lifecycle processor, one call at a time; {@code running} is volatile for
 * {@link #isRunning()} from other threads.
 */
final class EntanglementLifecycle implements SmartLifecycle {
  private static final Logger LOG = Logger.getLogger(EntanglementLifecycle.class);

  private final Entanglement node;
  private final ConfigurableListableBeanFactory beans;
  private final List<ChangeListener<?>> changeListeners = new ArrayList<>();
  private boolean registered;
  private volatile boolean running;

  EntanglementLifecycle(Entanglement node, ConfigurableListableBeanFactory beans) {
    this.node = node;
    this.beans = beans;
  }

  @Override
  public void start() {
    if (!registered) {
      register();
      registered = true;
    }
    node.serve();
    running = true;
  }

  @Override
  public void stop() {
    running = false;
    node.stopServing();
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  /** Starts before the web server takes requests and stops after it (Boot's is DEFAULT_PHASE - 2048). */
  @Override
  public int getPhase() {
    return SmartLifecycle.DEFAULT_PHASE - 4096;
  }

  private void register() {
    beans.getBeansOfType(Policy.class).values().forEach(node::addPolicy);
    beans.getBeansOfType(TransitionListener.class).values().forEach(node::addTransitionListener);
    beans.getBeansOfType(RequestListener.class).values().forEach(node::addRequestListener);
    for (String name : beans.getBeanNamesForType(ChangeListener.class)) {
      registerChangeListener(name, (ChangeListener<?>) beans.getBean(name));
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private void registerChangeListener(String name, ChangeListener<?> listener) {
    // the entity type from the bean's declared type (a @Bean method's ChangeListener<Machine>) or its class
    Class<?> type = beans.getMergedBeanDefinition(name).getResolvableType().as(ChangeListener.class)
        .getGeneric(0).resolve();
    if (type == null) {
      type = ResolvableType.forClass(listener.getClass()).as(ChangeListener.class).getGeneric(0).resolve(Object.class);
    }
    try {
      node.addChangeListener((Class) type, (ChangeListener) listener);
      changeListeners.add(listener);
    } catch (UnsupportedOperationException e) {
      LOG.warnf("Entanglement node '%s': change listener bean '%s' is not registered: %s", node.nodeName(), name,
          e.getMessage());
    }
  }
}
