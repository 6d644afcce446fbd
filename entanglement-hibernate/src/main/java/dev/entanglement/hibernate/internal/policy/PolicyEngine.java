package dev.entanglement.hibernate.internal.policy;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.PolicyDenial;
import dev.entanglement.hibernate.PolicyDenial.Check;
import dev.entanglement.hibernate.PolicyDenial.Direction;
import dev.entanglement.hibernate.annotations.EntangledPolicy;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.IncomingObject;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
  private final Function<String, Peer> peers;
  private final Map<DenialKey, DenialCount> denials = new ConcurrentHashMap<>();
  private final Map<DenialKey, Long> lastLogged = new ConcurrentHashMap<>();
  private volatile boolean empty;

  public PolicyEngine(List<Policy> nodePolicies, EntangledModel model, Function<String, Peer> peers) {
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

  public Peer peer(String name) {
    return peers.apply(name);
  }

  // ---- control points ------------------------------------------------------------------------

  /** Whether anything may go to the peer at all (the node's {@code sendToPeer}). */
  public Decision sendToPeer(String peerName) {
    if (empty) {
      return Decision.allow();
    }
    Peer peer = peers.apply(peerName);
    Decision decision = Decision.abstain();
    for (Policy policy : nodePolicies) {
      decision = decision.and(policy.sendToPeer(peer));
    }
    return decision;
  }

  /** Whether anything may go to the peer, then this object. */
  public Decision send(String peerName, EntangledType type, ObjectRef object) {
    if (empty) {
      return Decision.allow();
    }
    Peer peer = peers.apply(peerName);
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
    Peer peer = peers.apply(peerName);
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
    Peer peer = peers.apply(peerName);
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

  /** Counts and logs a denial: which way, at which check, what was denied, and why. */
  public void denied(String peer, Direction direction, Check check, String what, Decision decision) {
    DenialKey key = new DenialKey(peer, direction, check);
    DenialCount count = denials.computeIfAbsent(key, k -> new DenialCount());
    count.count.increment();
    count.lastReason = decision.reason();
    String way = direction == Direction.SEND ? "to" : "from";
    long now = System.nanoTime();
    Long last = lastLogged.get(key);
    if (last == null || now - last > LOG_EVERY_NANOS) {
      lastLogged.put(key, now);
      LOG.infof("Policy denied %s %s peer '%s': %s (counted per peer and check; further denials of this kind "
          + "are logged at DEBUG for a minute)", what, way, peer, decision.reason());
    } else {
      LOG.debugf("Policy denied %s %s peer '%s': %s", what, way, peer, decision.reason());
    }
  }

  /** Denials so far, per peer, direction and check. */
  public List<PolicyDenial> denials() {
    List<PolicyDenial> result = new ArrayList<>();
    denials.forEach((k, v) -> result.add(new PolicyDenial(k.peer(), k.direction(), k.check(), v.count.sum(), v.lastReason)));
    result.sort(Comparator.comparing(PolicyDenial::peer).thenComparing(PolicyDenial::direction)
        .thenComparing(PolicyDenial::check));
    return result;
  }

  /** Denials so far involving one peer. */
  public long denials(String peer) {
    long total = 0;
    for (Map.Entry<DenialKey, DenialCount> entry : denials.entrySet()) {
      if (entry.getKey().peer().equals(peer)) {
        total += entry.getValue().count.sum();
      }
    }
    return total;
  }

  /** What denials are counted by: a bounded set (peers times two directions times three checks). */
  private record DenialKey(String peer, Direction direction, Check check) {}

  private static final class DenialCount {
    final LongAdder count = new LongAdder();
    volatile String lastReason;
  }
}
