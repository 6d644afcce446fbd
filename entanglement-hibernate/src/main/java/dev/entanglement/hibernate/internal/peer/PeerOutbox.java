package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Change;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Changes waiting to be sent to one peer: at most one per object for coalescing types (a newer
 * state replaces the unsent one and keeps its place in the queue, so a hot object is not starved),
 * every change in order for types that opt out. Lower priorities leave first.
 *
 * <h2>Concurrency</h2>
 * {@link #offer} runs on application threads inside Hibernate's after-commit callback, {@link #poll}
 * on the peer's serial executor. Both hold {@code lock} briefly; nothing here blocks on the network.
 */
final class PeerOutbox {
  private final Object lock = new Object();
  // guarded by lock: priority -> (coalescing key or unique token -> change), in arrival order
  private final TreeMap<Integer, LinkedHashMap<Object, Change>> lanes = new TreeMap<>();
  private int size;
  private long coalesced;
  private long offered;

  /** Adds a change; returns true if it replaced an unsent change of the same object. */
  boolean offer(Outgoing outgoing) {
    synchronized (lock) {
      offered++;
      LinkedHashMap<Object, Change> lane = lanes.computeIfAbsent(outgoing.priority(), p -> new LinkedHashMap<>());
      // a non-coalescing change gets a key of its own, so it never replaces another
      Object key = outgoing.coalesce() ? outgoing.key() : new Object();
      Change previous = lane.put(key, outgoing.change());
      if (previous != null) {
        coalesced++;
        return true;
      }
      size++;
      return false;
    }
  }

  /** Removes and returns up to {@code max} changes, lowest priority first. */
  List<Change> poll(int max) {
    synchronized (lock) {
      List<Change> batch = new ArrayList<>(Math.min(max, size));
      Iterator<Map.Entry<Integer, LinkedHashMap<Object, Change>>> lanesIt = lanes.entrySet().iterator();
      while (batch.size() < max && lanesIt.hasNext()) {
        LinkedHashMap<Object, Change> lane = lanesIt.next().getValue();
        Iterator<Change> it = lane.values().iterator();
        while (batch.size() < max && it.hasNext()) {
          batch.add(it.next());
          it.remove();
        }
        if (lane.isEmpty()) {
          lanesIt.remove();
        }
      }
      size -= batch.size();
      return batch;
    }
  }

  int size() {
    synchronized (lock) {
      return size;
    }
  }

  /** How many changes were replaced by a newer state before being sent. */
  long coalesced() {
    synchronized (lock) {
      return coalesced;
    }
  }

  long offered() {
    synchronized (lock) {
      return offered;
    }
  }
}
