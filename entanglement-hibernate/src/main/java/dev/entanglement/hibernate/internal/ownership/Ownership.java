package dev.entanglement.hibernate.internal.ownership;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which existing replicated objects are owned by other nodes, so that the flush of a change to
 * one of them can be turned into an update request without a database round trip. Objects not
 * listed are this node's own (or new). Memory grows with the replicas a node holds.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: a concurrent map, written by the apply executors after their commits and read by
 * committing application threads.
 */
public final class Ownership {
  private final Map<String, String> ownerByKey = new ConcurrentHashMap<>();

  /** The owner of an object owned by another node, or null. */
  public String remoteOwner(String key) {
    return ownerByKey.get(key);
  }

  public void owned(String key, String owner) {
    ownerByKey.put(key, owner.intern());
  }

  public void gone(String key) {
    ownerByKey.remove(key);
  }

  public int size() {
    return ownerByKey.size();
  }
}
