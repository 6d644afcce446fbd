package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.OwnerPosition;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Tracks how far the peer is complete per owner: the positions sent with each batch, the
 * batches in flight until their Ack, and the complete position of each owner this node serves
 * (below every unfinished transaction, every change still waiting in the outbox and what a
 * catch-up has not read yet).
 *
 * <h2>Concurrency</h2>
 * Not thread-safe: {@code positionSent}, {@code inFlight}, {@code changesInFlight},
 * {@code rechecks}, {@code view} and {@code nextRequestId} are confined
 * to the connection's serial executor. The outbox it reads is thread-safe.
 */
final class PositionTracker {
  /** How far the catch-ups of an owner (running or queued) have read. */
  interface CatchUpLimit {
    /** Long.MAX_VALUE without a catch-up of the owner; -1 while a full synchronization of it runs. */
    long limit(String owner);
  }

  private final PeerHost host;
  private final PeerOutbox outbox;
  private final CatchUpLimit catchUps;
  private final Map<String, Long> positionSent = new HashMap<>(); // per owner, the highest sent
  private final Map<Long, Map<String, Long>> inFlight = new HashMap<>(); // request id -> positions sent
  // request id -> the changes sent, for the answers of the peer (bounded by the batches in flight)
  private final Map<Long, List<Change>> changesInFlight = new HashMap<>();
  private final java.util.Set<Long> rechecks = new java.util.HashSet<>(); // request ids of rechecks in flight
  private long nextRequestId;
  private String peerName;
  /**
   * What the peer may be told ({@link PeerView#positionOf}): a browser is told positions of the
   * owners it was sent objects of only, a node those of owners it may name, so a policy that
   * hides an owner's every object hides the owner's name too; an owner it never heard of counts
   * as serial 0 in its next Hello, which costs the node a catch-up scan of objects the policy
   * denies again (none is sent). Null only in tests that name the peer bare.
   */
  private PeerView view;
  /** Signed state on this stream, or null (off, or a browser). */
  private StreamSigning signing;

  PositionTracker(PeerHost host, PeerOutbox outbox, CatchUpLimit catchUps) {
    this.host = host;
    this.outbox = outbox;
    this.catchUps = catchUps;
  }

  /** Names the peer, once its Hello is accepted: its own objects are never served to it. */
  void peer(String name) {
    peer(name, null);
  }

  /** As {@link #peer(String)}; a {@code browser} is told only positions of owners it was sent objects of. */
  void peer(String name, PeerView view) {
    this.peerName = name;
    this.view = view;
  }

  /** A catch-up from {@code cursor} starts or is queued: the owner's position is no further than that. */
  void lowerTo(String owner, long cursor) {
    positionSent.merge(owner, cursor, Math::min);
  }

  /** A full synchronization ended at {@code position} (its end marker carries it). */
  void sentThrough(String owner, long position) {
    positionSent.put(owner, position);
  }

  /** Signs this node's changes and adds the certificates the peer needs (signed state; null: off). */
  void signing(StreamSigning signing) {
    this.signing = signing;
  }

  /** Builds a batch carrying the positions it completes (those that moved), tracked until acked. */
  ChangeBatch batch(List<Change> changes) {
    long requestId = ++nextRequestId;
    ChangeBatch.Builder message = ChangeBatch.newBuilder().setRequestId(requestId);
    if (signing != null && !changes.isEmpty()) {
      changes = signing.sign(changes);
      message.addAllCertificates(signing.certificates(changes));
    }
    message.addAllChanges(changes);
    if (view != null) {
      for (Change change : changes) {
        if (!change.getEphemeral()) { // positions are of entity objects; ephemeral owners come and go
          show(change.getOwner());
          if (!change.getHandoverTo().isEmpty()) {
            show(change.getHandoverTo()); // the policies let this object go under its next owner
          }
        }
      }
    }
    Map<String, Long> positions = moved();
    positions.forEach((owner, position) ->
        message.addPositions(OwnerPosition.newBuilder().setOwner(owner).setSerial(position)));
    positionSent.putAll(positions);
    inFlight.put(requestId, positions);
    if (!changes.isEmpty()) {
      changesInFlight.put(requestId, changes);
    }
    return message.build();
  }

  /**
   * Builds a batch re-sending changes the peer answered as parked, to learn whether they still
   * are; it carries no positions and is tracked until acked like any batch.
   */
  ChangeBatch recheck(List<Change> changes) {
    long requestId = ++nextRequestId;
    ChangeBatch.Builder message = ChangeBatch.newBuilder().setRequestId(requestId).setRecheck(true);
    if (signing != null && !changes.isEmpty()) {
      changes = signing.sign(changes);
      message.addAllCertificates(signing.certificates(changes));
    }
    inFlight.put(requestId, Map.of());
    changesInFlight.put(requestId, changes);
    rechecks.add(requestId);
    return message.addAllChanges(changes).build();
  }

  /** Whether an acknowledged batch was a {@link #recheck} (once: it is forgotten). */
  boolean wasRecheck(long requestId) {
    return rechecks.remove(requestId);
  }

  /** The changes an acknowledged batch carried (in its order), for reading its outcomes. */
  List<Change> changesOf(long requestId) {
    List<Change> changes = changesInFlight.remove(requestId);
    return changes == null ? List.of() : changes;
  }

  /** The peer may name {@code owner} from now on: a node hears of routes to it (issue 17). */
  private void show(String owner) {
    if (view.show(owner) && !view.isBrowser()) {
      host.nameable(peerName, owner);
    }
  }

  /** The positions an acknowledged batch carried, or null for a request this side never sent. */
  Map<String, Long> acknowledged(long requestId) {
    return inFlight.remove(requestId);
  }

  boolean nothingInFlight() {
    return inFlight.isEmpty();
  }

  /** The owners whose complete position moved since it was last sent. */
  Map<String, Long> moved() {
    Map<String, Long> moved = new HashMap<>();
    for (String owner : servedOwners()) {
      long position = complete(owner);
      if (position > positionSent.getOrDefault(owner, 0L)) {
        moved.put(owner, position);
      }
    }
    return moved;
  }

  /** This node and every other owner whose objects it holds, but the peer itself. */
  private List<String> servedOwners() {
    List<String> owners = new ArrayList<>();
    owners.add(host.nodeName());
    for (OwnerPosition held : host.heldPositions()) {
      if (!held.getOwner().equals(peerName) && !held.getOwner().equals(host.nodeName())
          && (view == null || view.positionOf(held.getOwner()))) {
        owners.add(held.getOwner());
      }
    }
    return owners;
  }

  /**
   * How far the peer will hold an owner's objects once everything sent so far is applied: for
   * this node, below every unfinished transaction; for another owner, no further than this node
   * holds it itself and below every change held back from the peer; and in both cases below
   * every change of the owner still waiting in the outbox and what a catch-up of the owner has
   * not read yet. -1 during a full synchronization of the owner (its end marker carries the
   * position instead).
   */
  long complete(String owner) {
    long limit = catchUps.limit(owner);
    if (limit < 0) {
      return -1;
    }
    // read the unfinished serials before the outbox: a change finishes only after it is offered
    long position = owner.equals(host.nodeName()) ? host.lowestUnfinishedSerial() - 1
        : Math.min(host.heldPosition(owner), host.lowestHeld(peerName, owner) - 1);
    long waiting = outbox.lowestWaiting(owner);
    if (waiting != Long.MAX_VALUE) {
      position = Math.min(position, waiting - 1);
    }
    return Math.min(position, limit);
  }
}
