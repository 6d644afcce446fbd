package dev.entanglement.hibernate.internal.policy;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.annotations.EntangledPolicy;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.IncomingObject;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.PeerRef;
import dev.entanglement.hibernate.policy.Policy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * Asks the policies at each control point, in the documented order (the entity type's own,
 * then the node's), combined deny-overrides, and keeps the denial counters per peer, direction
 * and reason. A node without policies takes a fast path that allocates nothing.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: the policy lists are copy-on-write, counters are concurrent, and the log limiter
 * is a concurrent map of last-logged times. Policies themselves must be thread-safe.
 */
public final class PolicyEngine {
  private static final Logger LOG = Logger.getLogger(PolicyEngine.class);
  private static final long LOG_EVERY_NANOS = 60_000_000_000L;

  private final List<Policy> nodePolicies = new CopyOnWriteArrayList<>();
  private final Map<EntangledType, List<Policy>> typePolicies = new HashMap<>();
  private final Function<String, PeerRef> peers;
  private final Map<String, LongAdder> denials = new ConcurrentHashMap<>();
  private final Map<String, Long> lastLogged = new ConcurrentHashMap<>();
  private volatile boolean empty;

  public PolicyEngine(List<Policy> nodePolicies, EntangledModel model, Function<String, PeerRef> peers) {
    this.nodePolicies.addAll(nodePolicies);
    this.peers = peers;
    for (EntangledType type : model.types()) {
      EntangledPolicy annotation = type.persister().getMappedClass().getAnnotation(EntangledPolicy.class);
      if (annotation != null) {
        List<Policy> list = new ArrayList<>();
        for (Class<? extends Policy> policyClass : annotation.value()) {
          list.add(instantiate(policyClass, "@EntangledPolicy on " + type.persister().getMappedClass().getName()));
        }
        typePolicies.put(type, List.copyOf(list));
      }
    }
    empty = this.nodePolicies.isEmpty() && typePolicies.isEmpty();
  }

  /**
   * Reads the node's policies from the setting's value: class names (comma separated), a
   * {@link Policy} instance, or a collection of either.
   *
   * @throws EntanglementConfigurationException naming the setting and the bad value
   */
  public static List<Policy> fromSetting(String setting, Object value, ClassLoader loader) {
    List<Policy> policies = new ArrayList<>();
    if (value == null) {
      return policies;
    }
    Collection<?> items = value instanceof Collection<?> c ? c
        : value instanceof Policy ? List.of(value) : List.of(value.toString().split(","));
    for (Object item : items) {
      if (item instanceof Policy policy) {
        policies.add(policy);
        continue;
      }
      String name = String.valueOf(item).trim();
      if (name.isEmpty()) {
        continue;
      }
      Class<?> type;
      try {
        type = Class.forName(name, true, loader);
      } catch (ClassNotFoundException | LinkageError e) {
        throw new EntanglementConfigurationException(("Setting %s names the class '%s', which cannot be loaded (%s); "
            + "expected the fully qualified name of a class implementing %s").formatted(setting, name, e, Policy.class.getName()), e);
      }
      if (!Policy.class.isAssignableFrom(type)) {
        throw new EntanglementConfigurationException("Setting %s names the class '%s', which does not implement %s"
            .formatted(setting, name, Policy.class.getName()));
      }
      policies.add(instantiate(type.asSubclass(Policy.class), "Setting " + setting));
    }
    return policies;
  }

  private static Policy instantiate(Class<? extends Policy> type, String where) {
    try {
      return type.getConstructor().newInstance();
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new EntanglementConfigurationException("%s: the policy class '%s' could not be created (%s); expected a "
          .formatted(where, type.getName(), e instanceof java.lang.reflect.InvocationTargetException ite ? ite.getCause() : e)
          + "public class with a public no-argument constructor", e);
    }
  }

  /** Adds a policy of the node at run time. */
  public void add(Policy policy) {
    nodePolicies.add(policy);
    empty = false;
  }

  public boolean isEmpty() {
    return empty;
  }

  public PeerRef peer(String name) {
    return peers.apply(name);
  }

  // ---- control points ------------------------------------------------------------------------

  /** Whether anything may go to the peer, then this object. */
  public Decision send(String peerName, EntangledType type, ObjectRef object) {
    if (empty) {
      return Decision.allow();
    }
    PeerRef peer = peers.apply(peerName);
    Decision decision = Decision.abstain();
    for (Policy policy : nodePolicies) {
      decision = decision.and(policy.sendToPeer(peer));
    }
    if (decision.isDeny()) {
      return decision;
    }
    for (Policy policy : typePolicies.getOrDefault(type, List.of())) {
      decision = decision.and(policy.send(peer, object));
    }
    for (Policy policy : nodePolicies) {
      decision = decision.and(policy.send(peer, object));
    }
    return decision;
  }

  /** The peer level and the message stage of receiving. */
  public Decision receiveMessage(String peerName, EntangledType type, IncomingMessage message) {
    if (empty) {
      return Decision.allow();
    }
    PeerRef peer = peers.apply(peerName);
    Decision decision = Decision.abstain();
    for (Policy policy : nodePolicies) {
      decision = decision.and(policy.receiveFromPeer(peer));
    }
    if (decision.isDeny()) {
      return decision;
    }
    for (Policy policy : type == null ? List.<Policy>of() : typePolicies.getOrDefault(type, List.of())) {
      decision = decision.and(policy.receiveMessage(peer, message));
    }
    for (Policy policy : nodePolicies) {
      decision = decision.and(policy.receiveMessage(peer, message));
    }
    return decision;
  }

  /** Whether any policy may decide at the object stage (else constructing copies is skipped). */
  public boolean hasObjectStage() {
    return !empty;
  }

  /** The object stage of receiving. */
  public Decision receiveObject(String peerName, EntangledType type, IncomingObject object) {
    if (empty) {
      return Decision.allow();
    }
    PeerRef peer = peers.apply(peerName);
    Decision decision = Decision.abstain();
    for (Policy policy : typePolicies.getOrDefault(type, List.of())) {
      decision = decision.and(policy.receiveObject(peer, object));
    }
    for (Policy policy : nodePolicies) {
      decision = decision.and(policy.receiveObject(peer, object));
    }
    return decision;
  }

  // ---- audit ---------------------------------------------------------------------------------

  /** Counts and logs a denial: "send" or "receive", what was denied, and why. */
  public void denied(String peer, String direction, String what, Decision decision) {
    String counter = peer + '|' + direction + '|' + decision.reason();
    denials.computeIfAbsent(counter, k -> new LongAdder()).increment();
    long now = System.nanoTime();
    Long last = lastLogged.get(counter);
    if (last == null || now - last > LOG_EVERY_NANOS) {
      lastLogged.put(counter, now);
      LOG.infof("Policy denied %s %s peer '%s': %s (counted per peer and reason; further denials of this kind "
          + "are logged at DEBUG for a minute)", what, direction.equals("send") ? "to" : "from", peer, decision.reason());
    } else {
      LOG.debugf("Policy denied %s %s peer '%s': %s", what, direction.equals("send") ? "to" : "from", peer, decision.reason());
    }
  }

  /** Denials so far, by "peer|send or receive|reason". */
  public Map<String, Long> denials() {
    Map<String, Long> copy = new TreeMap<>();
    denials.forEach((k, v) -> copy.put(k, v.sum()));
    return copy;
  }

  /** Denials so far involving one peer. */
  public long denials(String peer) {
    long total = 0;
    for (Map.Entry<String, LongAdder> entry : denials.entrySet()) {
      if (entry.getKey().startsWith(peer + '|')) {
        total += entry.getValue().sum();
      }
    }
    return total;
  }
}
