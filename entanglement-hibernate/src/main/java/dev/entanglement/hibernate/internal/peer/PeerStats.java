package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts what one stream carried (messages, bytes, changes and their outcomes both ways), for
 * status, admin and metrics.
 *
 * <h2>Concurrency</h2>
 * Every field is an atomic or a concurrent map of atomics: counted on the connection's serial,
 * apply and transport threads, read from any thread. Snapshots are not atomic across counters.
 */
public final class PeerStats {
  private final AtomicLong messagesReceived = new AtomicLong();
  private final AtomicLong bytesReceived = new AtomicLong();
  private final AtomicLong bytesSent = new AtomicLong();
  private final AtomicLong changesSent = new AtomicLong();
  private final AtomicLong changesAcknowledged = new AtomicLong();
  private final AtomicLong changesRejectedByPeer = new AtomicLong();
  private final AtomicLong changesReceived = new AtomicLong();
  private final AtomicLong changesRejectedHere = new AtomicLong();
  private final AtomicLong changesAppliedHere = new AtomicLong();
  private final AtomicLong catchUpObjectsSent = new AtomicLong();
  private final Map<RejectReason, AtomicLong> rejectedByPeerByReason = new ConcurrentHashMap<>();
  private final Map<RejectReason, AtomicLong> rejectedHereByReason = new ConcurrentHashMap<>();

  void received(int bytes) {
    messagesReceived.incrementAndGet();
    bytesReceived.addAndGet(bytes);
  }

  void sent(int bytes) {
    bytesSent.addAndGet(bytes);
  }

  void changesSent(int count) {
    changesSent.addAndGet(count);
  }

  void changesReceived(int count) {
    changesReceived.addAndGet(count);
  }

  void catchUpRead(int objects) {
    catchUpObjectsSent.addAndGet(objects);
  }

  void acknowledgedByPeer() {
    changesAcknowledged.incrementAndGet();
  }

  void rejectedByPeer(RejectReason reason) {
    changesRejectedByPeer.incrementAndGet();
    rejectedByPeerByReason.computeIfAbsent(reason, r -> new AtomicLong()).incrementAndGet();
  }

  /** Counts the outcomes of a batch applied here. */
  /** A received request or transition refused here before anything was done with it (e.g. its origin). */
  public void refusedHere(RejectReason reason) {
    changesRejectedHere.incrementAndGet();
    rejectedHereByReason.computeIfAbsent(reason, r -> new AtomicLong()).incrementAndGet();
  }

  void answered(Ack ack) {
    for (Outcome outcome : ack.getOutcomesList()) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED) {
        changesRejectedHere.incrementAndGet();
        rejectedHereByReason.computeIfAbsent(outcome.getReason(), r -> new AtomicLong()).incrementAndGet();
      } else if (outcome.getStatus() == OutcomeStatus.APPLIED) {
        changesAppliedHere.incrementAndGet();
      }
    }
  }

  long messagesReceived() {
    return messagesReceived.get();
  }

  public long bytesReceived() {
    return bytesReceived.get();
  }

  public long bytesSent() {
    return bytesSent.get();
  }

  public long changesSent() {
    return changesSent.get();
  }

  public long changesAcknowledged() {
    return changesAcknowledged.get();
  }

  public long changesRejectedByPeer() {
    return changesRejectedByPeer.get();
  }

  public long changesReceived() {
    return changesReceived.get();
  }

  public long changesRejectedHere() {
    return changesRejectedHere.get();
  }

  public long changesAppliedHere() {
    return changesAppliedHere.get();
  }

  public long catchUpObjectsSent() {
    return catchUpObjectsSent.get();
  }

  public Map<RejectReason, Long> rejectedByPeerByReason() {
    return snapshot(rejectedByPeerByReason);
  }

  public Map<RejectReason, Long> rejectedHereByReason() {
    return snapshot(rejectedHereByReason);
  }

  private static Map<RejectReason, Long> snapshot(Map<RejectReason, AtomicLong> counts) {
    Map<RejectReason, Long> copy = new EnumMap<>(RejectReason.class);
    counts.forEach((reason, count) -> copy.put(reason, count.get()));
    return copy;
  }
}
