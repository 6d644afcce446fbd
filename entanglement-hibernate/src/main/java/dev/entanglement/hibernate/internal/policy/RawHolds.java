package dev.entanglement.hibernate.internal.policy;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The raw changes (of entity types this node does not have) held from each peer because a send
 * policy needed the object to decide: per peer, per object, the owner and serial of the newest
 * held change. A peer's position of an owner stays below the lowest held serial, so the held
 * changes are sent from the database once this node can decide (after the upgrade that brings
 * the type). Kept in memory: a restart forgets them, and the peer, whose position stayed below
 * them, gets them again on catch-up, where they are decided (and held) again.
 *
 * <h2>Concurrency and bounds</h2>
 * Thread-safe: concurrent maps, changed by the threads that offer to outboxes and read
 * catch-up. At most one entry per peer and object parked raw here, and those are bounded by
 * {@code ParkingLot.MAX_PARKED_UNKNOWN}.
 */
final class RawHolds {
  private record Held(String owner, long serial) {}

  private final Map<String, Map<String, Held>> byPeer = new ConcurrentHashMap<>();

  void hold(String peer, String key, String owner, long serial) {
    byPeer.computeIfAbsent(peer, p -> new ConcurrentHashMap<>()).put(key, new Held(owner, serial));
  }

  /** A newer change of the object was decided (sent or denied): nothing of it is held any more. */
  void release(String peer, String key) {
    Map<String, Held> held = byPeer.get(peer);
    if (held != null) {
      held.remove(key);
    }
  }

  long lowest(String peer, String owner) {
    Map<String, Held> held = byPeer.get(peer);
    long lowest = Long.MAX_VALUE;
    if (held != null) {
      for (Held one : held.values()) {
        if (one.owner().equals(owner)) {
          lowest = Math.min(lowest, one.serial());
        }
      }
    }
    return lowest;
  }
}
