package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.RequestListener;
import dev.entanglement.hibernate.TransitionListener;
import dev.entanglement.hibernate.policy.Policy;
import java.util.ArrayList;
import java.util.List;

/**
 * What the application registers through the API (request and transition listeners, policies),
 * kept per member: an application registers them at start on every instance, and a follower's
 * registrations must reach the rooms it builds when it takes the node's links over.
 *
 * <h2>Concurrency</h2>
 * Guarded by {@code this}: registrations come from application threads, {@link #attach} from the
 * thread that takes the links; {@code attached} decides whether a registration goes to the rooms
 * at once or waits for them.
 */
final class MemberRegistrations {
  private final NodeRuntime node;
  private final List<RequestListener> requestListeners = new ArrayList<>();
  private final List<TransitionListener> transitionListeners = new ArrayList<>();
  private final List<Policy> policies = new ArrayList<>();
  private boolean attached;

  MemberRegistrations(NodeRuntime node) {
    this.node = node;
  }

  /** The rooms exist: everything registered so far goes to them, and later registrations at once. */
  synchronized void attach() {
    requestListeners.forEach(node.forwarder.events()::add);
    transitionListeners.forEach(node.transitions::addListener);
    policies.forEach(node.policy.engine()::add);
    attached = true;
  }

  synchronized void addRequestListener(RequestListener listener) {
    requestListeners.add(listener);
    if (attached) {
      node.forwarder.events().add(listener);
    }
  }

  synchronized void removeRequestListener(RequestListener listener) {
    requestListeners.remove(listener);
    if (attached) {
      node.forwarder.events().remove(listener);
    }
  }

  /** The transition listeners registered so far (a follower delivers the holder's events to them). */
  synchronized List<TransitionListener> transitionListeners() {
    return List.copyOf(transitionListeners);
  }

  synchronized void addTransitionListener(TransitionListener listener) {
    transitionListeners.add(listener);
    if (attached) {
      node.transitions.addListener(listener);
    }
  }

  synchronized void removeTransitionListener(TransitionListener listener) {
    transitionListeners.remove(listener);
    if (attached) {
      node.transitions.removeListener(listener);
    }
  }

  synchronized void addPolicy(Policy policy) {
    policies.add(policy);
    if (attached) {
      node.policy.engine().add(policy);
    }
  }
}
