package dev.entanglement.hibernate.internal.ownership;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The owner directory's decision, as a pure value: the paths each neighbour announced, and the
 * best path to each owner chosen from them. A directly connected owner is its own route; otherwise
 * the shortest announced path wins, ties going to the neighbour whose name sorts first, so every
 * node decides alike whatever order announcements arrive in. Paths holding this node's name are
 * never stored (the caller drops them: no loops).
 *
 * <h2>Concurrency</h2>
 * Not thread-safe: confined to {@link OwnerDirectory}, which guards it with its lock.
 */
final class RouteTable {
  private final String self;
  /** Neighbours whose links are up, sorted (the tie-break order). */
  private final Set<String> neighbours = new TreeSet<>();
  /** Neighbour -> owner -> the path it announced (the neighbour first, the owner last). */
  private final Map<String, Map<String, List<String>>> learned = new HashMap<>();
  /** Owner -> the best path (the next hop first, the owner last). */
  private final Map<String, List<String>> best = new HashMap<>();

  RouteTable(String self) {
    this.self = self;
  }

  /** A link came up: the neighbour is the route to itself. Returns the owners whose best path changed, with the path before. */
  Map<String, List<String>> linkUp(String neighbour) {
    neighbours.add(neighbour);
    learned.putIfAbsent(neighbour, new HashMap<>());
    return recompute(Set.of(neighbour));
  }

  /** A link went down: everything learned from the neighbour goes. Returns the owners whose best path changed, with the path before. */
  Map<String, List<String>> linkDown(String neighbour) {
    if (!neighbours.remove(neighbour)) {
      return Map.of();
    }
    Map<String, List<String>> gone = learned.remove(neighbour);
    Set<String> affected = new HashSet<>(gone == null ? Set.of() : gone.keySet());
    affected.add(neighbour);
    return recompute(affected);
  }

  boolean isUp(String neighbour) {
    return neighbours.contains(neighbour);
  }

  /** How many owners the neighbour announced. */
  int learnedFrom(String neighbour) {
    Map<String, List<String>> paths = learned.get(neighbour);
    return paths == null ? 0 : paths.size();
  }

  boolean announced(String neighbour, String owner) {
    Map<String, List<String>> paths = learned.get(neighbour);
    return paths != null && paths.containsKey(owner);
  }

  /**
   * The neighbour's path to an owner (valid, loop-free, starting with the neighbour), or null: it
   * no longer leads there. Returns the owners whose best path changed, with the path before.
   */
  Map<String, List<String>> learn(String neighbour, String owner, List<String> path) {
    Map<String, List<String>> paths = learned.get(neighbour);
    if (paths == null || owner.equals(self)) {
      return Map.of();
    }
    if (path == null) {
      if (paths.remove(owner) == null) {
        return Map.of();
      }
    } else {
      paths.put(owner, List.copyOf(path));
    }
    return recompute(Set.of(owner));
  }

  /** Forgets everything the neighbour announced (a full table follows). Returns the owners whose best path changed, with the path before. */
  Map<String, List<String>> forgetLearned(String neighbour) {
    Map<String, List<String>> paths = learned.get(neighbour);
    if (paths == null || paths.isEmpty()) {
      return Map.of();
    }
    Set<String> affected = new HashSet<>(paths.keySet());
    paths.clear();
    return recompute(affected);
  }

  /** The best path to an owner (next hop first), or null. */
  List<String> best(String owner) {
    return best.get(owner);
  }

  /** Every owner with a route, sorted. */
  Set<String> owners() {
    return new TreeSet<>(best.keySet());
  }

  /**
   * What this node announces to a neighbour for an owner: its own name before its best path, or
   * null (withdrawn): no route, a path through the neighbour itself (split horizon: never back to
   * where it came from), or a path that would grow past {@code maxHops}.
   */
  List<String> offer(String neighbour, String owner, int maxHops) {
    if (owner.equals(self)) {
      return List.of(self);
    }
    List<String> path = best.get(owner);
    if (path == null || path.contains(neighbour) || path.size() + 1 > maxHops) {
      return null;
    }
    List<String> offered = new ArrayList<>(path.size() + 1);
    offered.add(self);
    offered.addAll(path);
    return offered;
  }

  /** Chooses again for these owners; returns those whose best path changed, with the path before (or null). */
  private Map<String, List<String>> recompute(Set<String> owners) {
    Map<String, List<String>> changed = new HashMap<>();
    for (String owner : owners) {
      List<String> chosen = choose(owner);
      List<String> before = chosen == null ? best.remove(owner) : best.put(owner, chosen);
      if (!Objects.equals(before, chosen)) {
        changed.put(owner, before);
      }
    }
    return changed;
  }

  private List<String> choose(String owner) {
    if (neighbours.contains(owner)) {
      return List.of(owner);
    }
    List<String> chosen = null;
    for (String neighbour : neighbours) { // sorted: the first of equally short paths wins
      List<String> path = learned.getOrDefault(neighbour, Map.of()).get(owner);
      if (path != null && (chosen == null || path.size() < chosen.size())) {
        chosen = path;
      }
    }
    return chosen;
  }
}
