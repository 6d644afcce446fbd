package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.proto.v1.Change;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Changes waiting to be sent to one peer: at most one per object for coalescing types (a newer
 * state replaces the unsent one and keeps its place in the queue, so a hot object is not
 * starved; an older state, e.g. read by catch-up after a live change was offered, never
 * replaces a newer one), every change in order for types that opt out. Lower priorities leave
 * first. It also knows the lowest serial still waiting per owner, from which the sender tells
 * the peer how far it is complete, and the changes that could not be offered (held: the peer's
 * position stays below them until a catch-up reads them again from the database).
 *
 * <h2>Concurrency</h2>
 * {@link #offer} runs on application threads inside Hibernate's after-commit callback and on
 * the catch-up reader, {@link #poll} on the peer's serial executor. All state is guarded by
 * {@code lock}, held briefly; nothing here blocks on the network.
 */
final class PeerOutbox {
  private final Object lock = new Object();
  // guarded by lock: priority -> (coalescing key or unique token -> change), in arrival order
  private final TreeMap<Integer, LinkedHashMap<Object, Change>> lanes = new TreeMap<>();
  // guarded by lock: owner -> multiset of the serials waiting
  private final Map<String, TreeMap<Long, Integer>> serials = new HashMap<>();
  // guarded by lock: owner -> the lowest serial of a change that could not be offered
  private final Map<String, Long> held = new HashMap<>();
  private int size;
  private long coalesced;

  /** Adds a change; returns true if it replaced (or was superseded by) a waiting change of the same object. */
  boolean offer(Outgoing outgoing) {
    Change change = outgoing.change();
    synchronized (lock) {
      LinkedHashMap<Object, Change> lane = lanes.computeIfAbsent(outgoing.priority(), p -> new LinkedHashMap<>());
      // a non-coalescing change gets a key of its own, so it never replaces another
      Object key = outgoing.coalesce() ? outgoing.key() : new Object();
      Change previous = lane.get(key);
      if (previous != null) {
        coalesced++;
        if (newer(previous, change)) {
          return true; // what waits is newer already
        }
        lane.put(key, change);
        removeSerial(previous);
        addSerial(change);
        return true;
      }
      lane.put(key, change);
      addSerial(change);
      size++;
      return false;
    }
  }

  /** Whether a waiting state is newer than an offered one: a later ownership epoch, or the same owner's later serial. */
  private static boolean newer(Change waiting, Change offered) {
    if (waiting.getEpoch() != offered.getEpoch()) {
      return waiting.getEpoch() > offered.getEpoch();
    }
    return waiting.getSerial() > offered.getSerial() && waiting.getOwner().equals(offered.getOwner());
  }

  /**
   * Removes and returns up to {@code maxCount} changes and about {@code maxBytes} (at least one
   * change), lowest priority first.
   */
  List<Change> poll(int maxCount, long maxBytes) {
    synchronized (lock) {
      List<Change> batch = new ArrayList<>(Math.min(maxCount, size));
      long bytes = 0;
      Iterator<Map.Entry<Integer, LinkedHashMap<Object, Change>>> lanesIt = lanes.entrySet().iterator();
      outer:
      while (lanesIt.hasNext()) {
        LinkedHashMap<Object, Change> lane = lanesIt.next().getValue();
        Iterator<Change> it = lane.values().iterator();
        while (it.hasNext()) {
          Change next = it.next();
          int nextBytes = next.getSerializedSize();
          if (batch.size() >= maxCount || (!batch.isEmpty() && bytes + nextBytes > maxBytes)) {
            break outer;
          }
          batch.add(next);
          bytes += nextBytes;
          it.remove();
          removeSerial(next);
        }
        lanesIt.remove();
      }
      size -= batch.size();
      return batch;
    }
  }

  List<Change> poll(int maxCount) {
    return poll(maxCount, Long.MAX_VALUE);
  }

  /** The lowest serial of the owner's changes still waiting (or held), or {@code Long.MAX_VALUE}. */
  long lowestWaiting(String owner) {
    synchronized (lock) {
      TreeMap<Long, Integer> waiting = serials.get(owner);
      long lowest = waiting == null || waiting.isEmpty() ? Long.MAX_VALUE : waiting.firstKey();
      return Math.min(lowest, held.getOrDefault(owner, Long.MAX_VALUE));
    }
  }

  /**
   * A change of the owner with this serial could not be offered (its policy threw): the owner's
   * position stays below it until {@link #release}. Returns true if the owner was not held yet.
   */
  boolean hold(String owner, long serial) {
    synchronized (lock) {
      Long before = held.get(owner);
      held.put(owner, before == null ? serial : Math.min(before, serial));
      return before == null;
    }
  }

  /** Releases the owner's hold (a catch-up from below it is queued); returns its serial or {@code Long.MAX_VALUE}. */
  long release(String owner) {
    synchronized (lock) {
      Long serial = held.remove(owner);
      return serial == null ? Long.MAX_VALUE : serial;
    }
  }

  /** Whether a change could not be offered and waits to be read again. */
  boolean holding() {
    synchronized (lock) {
      return !held.isEmpty();
    }
  }

  int size() {
    synchronized (lock) {
      return size;
    }
  }

  /** How many changes were merged into a waiting change of the same object. */
  long coalesced() {
    synchronized (lock) {
      return coalesced;
    }
  }

  private void addSerial(Change change) {
    if (change.getEphemeral()) {
      return; // in memory only: no position waits for it
    }
    serials.computeIfAbsent(change.getOwner(), o -> new TreeMap<>()).merge(change.getSerial(), 1, Integer::sum);
  }

  private void removeSerial(Change change) {
    if (change.getEphemeral()) {
      return;
    }
    TreeMap<Long, Integer> waiting = serials.get(change.getOwner());
    if (waiting != null) {
      waiting.computeIfPresent(change.getSerial(), (s, n) -> n == 1 ? null : n - 1);
    }
  }
}
