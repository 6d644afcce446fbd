package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.PeerRegistry;
import dev.entanglement.hibernate.internal.store.SerialClock;
import dev.entanglement.hibernate.internal.transition.Transitions;
import java.util.List;
import java.util.function.Supplier;

/**
 * The path of this node's own committed changes after commit: serials from the clock, and the
 * offer of committed changes to every connected peer's outbox (never waiting on the network).
 * Shared by capture, update requests decided here and hand-overs.
 *
 * <h2>Concurrency</h2>
 * Stateless beyond its collaborators, which are thread-safe.
 */
final class LocalChanges {
  private final String nodeName;
  private final SerialClock clock;
  private final PeerRegistry peers;
  private final Supplier<Transitions> transitions;

  LocalChanges(String nodeName, SerialClock clock, PeerRegistry peers, Supplier<Transitions> transitions) {
    this.nodeName = nodeName;
    this.clock = clock;
    this.peers = peers;
    this.transitions = transitions;
  }

  String nodeName() {
    return nodeName;
  }

  long nextSerial() {
    return clock.next();
  }

  /** The transaction that took these serials completed: positions may move past them. */
  void finished(List<Long> serials) {
    if (serials.isEmpty()) {
      return;
    }
    clock.finished(serials);
    for (PeerConnection connection : peers.connected()) {
      connection.positionsMayMove();
    }
  }

  /**
   * Offers committed changes to every connected peer. Never blocks on the network. A change a
   * peer's policies cannot decide (they throw) is held for that peer: its position stays below
   * the change, which is read again from the database after a backoff
   * ({@link PeerConnection#offer}); the other peers get it as usual.
   */
  void publish(List<Outgoing> changes) {
    for (PeerConnection connection : peers.connected()) {
      for (Outgoing change : changes) {
        connection.offer(change);
      }
    }
    for (Outgoing change : changes) {
      transitions.get().committed(change.key(), change.change());
    }
  }

  /**
   * Committed changes from {@code lowestSerial} on could not be made or offered: every connected
   * peer's position of this node stays below it, and each reads them from the database after a
   * backoff. Called before their serials finish. Never throws.
   */
  void notPublished(long lowestSerial, Throwable cause) {
    if (lowestSerial == Long.MAX_VALUE) {
      return;
    }
    for (PeerConnection connection : peers.connected()) {
      connection.notOffered(nodeName, lowestSerial, "offer", "the changes of a transaction from serial " + lowestSerial,
          cause);
    }
  }
}
