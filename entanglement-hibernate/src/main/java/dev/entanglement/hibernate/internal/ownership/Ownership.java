package dev.entanglement.hibernate.internal.ownership;

import java.util.List;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which existing replicated objects are owned by other nodes (or being handed to another node),
 * so that the flush of a change to one of them can be turned into an update request without a
 * database round trip; and the ownership epoch of this node's own objects that were once handed
 * over, so that their captured changes carry it. Objects not listed are this node's own (or
 * new), epoch 0. Memory grows with the replicas a node holds.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: concurrent maps, written by the apply executors and the hand-over after their
 * commits (a hand-over marks its object before it starts, see {@link #handingOver}) and read by
 * committing application threads.
 */
public final class Ownership {
  private final Map<String, String> ownerByKey = new ConcurrentHashMap<>();
  private final Map<String, Long> ownEpochByKey = new ConcurrentHashMap<>();

  /** The node that decides an object owned (or about to be owned) by another node, or null. */
  /** Loads the ownership of every object the node holds, as read at start. */
  public void load(List<Bookkeeping.ObjectRow> rows, String nodeName) {
    for (Bookkeeping.ObjectRow row : rows) {
      String key = row.entity() + '#' + row.id();
      if (row.effectiveOwner().equals(nodeName)) {
        ownedHere(key, row.owner().equals(nodeName) ? row.epoch() : 0);
      } else {
        owned(key, row.effectiveOwner());
      }
    }
  }

  public String remoteOwner(String key) {
    return ownerByKey.get(key);
  }

  public void owned(String key, String owner) {
    ownerByKey.put(key, owner.intern());
  }

  /** The object is this node's own, at an epoch (0 unless it was handed over before). */
  public void ownedHere(String key, long epoch) {
    ownerByKey.remove(key);
    if (epoch > 0) {
      ownEpochByKey.put(key, epoch);
    } else {
      ownEpochByKey.remove(key);
    }
  }

  /**
   * Marks an own object as leaving for another node: from now on the application's changes to it
   * become update requests to the new owner. Returns false if it was not this node's own.
   */
  public boolean handingOver(String key, String newOwner) {
    return ownerByKey.putIfAbsent(key, newOwner.intern()) == null;
  }

  public void gone(String key) {
    ownerByKey.remove(key);
    ownEpochByKey.remove(key);
  }

  /** The epoch of an object this node owns (0 unless it was handed over before). */
  public long ownEpoch(String key) {
    Long epoch = ownEpochByKey.get(key);
    return epoch == null ? 0 : epoch;
  }

  /** Forgets every object of a removed owner. */
  public void forgetOwner(String owner) {
    ownerByKey.values().removeIf(owner::equals);
  }

  public int size() {
    return ownerByKey.size();
  }
}
