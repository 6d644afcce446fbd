package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.ResyncMode;
import dev.entanglement.hibernate.ResyncReport;
import dev.entanglement.hibernate.internal.core.CatchUpChunk;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.core.SerialExecutor;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.SyncMarker;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import org.jboss.logging.Logger;

/**
 * Plans the outbound replication session with one peer: what to send from the database when the
 * peer arrives (catch-up by owner, or a full synchronization bracketed by markers), the batches
 * taken from the outbox with the positions they complete, resynchronizations, and the waiters
 * for "caught up". It is the {@link PeerStream.Source} of changes; it never writes the database.
 *
 * <h2>Concurrency</h2>
 * Not thread-safe: every field ({@code running}, {@code queued}, {@code markers},
 * {@code caughtUpWaiters}, {@code resyncWaiters}, {@code nextResyncId}, {@code peerName}, {@code view}) is
 * confined to the connection's serial executor. A chunk is read on the pool, its policies
 * decided there, and the result handed back to the serial executor.
 *
 * <h2>Bounds</h2>
 * At most one catch-up per owner is queued for the arrival; resynchronizations a peer asks for
 * are capped at {@link #MAX_QUEUED}: {@link #resyncRequested} refuses one past the cap and the
 * connection ends the stream with RESOURCE_EXHAUSTED naming it. Markers are at most two per
 * catch-up.
 */
final class CatchUpPlanner implements PeerStream.Source {
  private static final Logger LOG = Logger.getLogger(CatchUpPlanner.class);
  private static final int CHUNK = 1024;
  /** Catch-ups waiting behind the running one, beyond one per owner served. */
  static final int MAX_QUEUED = 64;

  private final PeerHost host;
  private final PeerOutbox outbox;
  private final PeerStats stats;
  private final SerialExecutor serial;
  private final BiConsumer<Status, String> fail;
  private final PositionTracker positions;
  private final SendFailures sendFailures;
  private final ArrayDeque<CatchUp> queued = new ArrayDeque<>();
  private final ArrayDeque<Envelope> markers = new ArrayDeque<>();
  private final List<CompletableFuture<Void>> caughtUpWaiters = new ArrayList<>();
  private final Map<Long, ResyncWaiter> resyncWaiters = new HashMap<>();
  private CatchUp running;
  private long nextResyncId;
  private String peerName;
  /** What the peer may be told (null only in tests that start the planner bare). */
  private PeerView view;
  /** Asked to drain again once a chunk was read. */
  private Runnable drain = () -> {};

  CatchUpPlanner(PeerHost host, PeerOutbox outbox, PeerStats stats, SerialExecutor serial,
      BiConsumer<Status, String> fail, SendFailures sendFailures) {
    this.host = host;
    this.sendFailures = sendFailures;
    this.outbox = outbox;
    this.stats = stats;
    this.serial = serial;
    this.fail = fail;
    this.positions = new PositionTracker(host, outbox, this::limit);
  }

  /** The highest serial a peer's Hello may claim to hold: far beyond any real node, far from overflowing. */
  static final long MAX_SERIAL = 1L << 53;

  void drainWith(Runnable drain) {
    this.drain = drain;
  }

  PositionTracker positions() {
    return positions;
  }

  /** Decides how to bring the peer whose Hello was accepted up to date with this node's objects. */
  void start(Hello hello) {
    start(hello, null);
  }

  /**
   * As {@link #start(Hello)}, with what the peer may be told ({@link PeerView}); for a browser: A browser holds nothing
   * durably, so a position of this node beyond what it gave out is stale or forged, never lost
   * commits: the browser gets everything again with a sweep, and this node's serials stay where
   * they are. A peer hears of no owner it may not name: a full synchronization of such an
   * owner starts its marker only before the first object of the owner that goes to it, and one
   * that sent it nothing sends no markers at all (it holds nothing of the owner to sweep).
   */
  void start(Hello hello, PeerView view) {
    boolean isBrowser = view != null && view.isBrowser();
    this.view = view;
    peerName = hello.getNodeName();
    positions.peer(peerName, view);
    String self = host.nodeName();
    long held = hello.getOwnersList().stream().filter(p -> p.getOwner().equals(self))
        .mapToLong(OwnerPosition::getSerial).findFirst().orElse(0L);
    // the highest serial of this node's objects the peer stores: above its position when it
    // applied changes whose position it had not received yet
    long highest = Math.max(held, hello.getOwnersList().stream().filter(p -> p.getOwner().equals(self))
        .mapToLong(OwnerPosition::getHighest).findFirst().orElse(0L));
    long mayHold = isBrowser ? host.lastSerial() : host.highestPeerMayHold(peerName);
    if (held < 0 || held > MAX_SERIAL || highest < 0 || highest > MAX_SERIAL) {
      // forged or broken: no real node gets there, and raising this node's serials to it would
      // overflow them; the peer gets everything again with a sweep instead
      LOG.warnf("Peer '%s' claims to hold objects of node '%s' up to serial %d, which no node reaches "
          + "(expected 0 to %d): ignoring it and sending all objects again with a sweep", peerName, self, Math.max(held, highest), MAX_SERIAL);
      host.acknowledged(peerName, self, 0);
      queue(new CatchUp(self, 0, true, true, 0));
    } else if (highest > mayHold && isBrowser) {
      LOG.infof("Browser '%s' claims to hold objects of node '%s' up to serial %d, beyond the %d given out: it gets "
          + "all objects again with a sweep", peerName, self, highest, mayHold);
      queue(new CatchUp(self, 0, true, true, 0));
    } else if (highest > mayHold) {
      // what the peer holds is what it has durably applied: it counts as acknowledged (and makes
      // the peer known to tombstone compaction from its first connection on)
      host.acknowledged(peerName, self, 0);
      // the peer holds serials this node never finished (its database was restored or reset):
      // continue above them, and replace everything the peer has of this node
      LOG.warnf("Peer '%s' holds objects of node '%s' up to serial %d, beyond the %d this node's database held "
          + "(it lost commits or was restored): this node's serials move above the peer's, and it sends all its "
          + "objects again with a sweep, so the peer takes what this node really has", peerName, self, highest,
          mayHold);
      host.moveSerialsAbove(highest);
      queue(new CatchUp(self, 0, true, true, 0));
    } else if (held < host.compactedThrough(self)) {
      // an unknown peer, an old backup, or a peer retired after entanglement.peer.forget_after
      host.acknowledged(peerName, self, held);
      LOG.infof("Peer '%s' was away past tombstone compaction (it holds serial %d, tombstones up to %d "
          + "are gone): full synchronization with a sweep", peerName, held, host.compactedThrough(self));
      queue(new CatchUp(self, 0, true, true, 0));
    } else {
      host.acknowledged(peerName, self, held);
      queue(new CatchUp(self, held, false, false, 0));
    }
    // the objects of other owners this node holds (it relays them), from where the peer is
    for (OwnerPosition position : host.heldPositions()) {
      String owner = position.getOwner();
      if (owner.equals(self) || owner.equals(peerName)) {
        continue;
      }
      long peerHolds = hello.getOwnersList().stream().filter(p -> p.getOwner().equals(owner))
          .mapToLong(OwnerPosition::getSerial).findFirst().orElse(0L);
      // what the peer durably holds counts as acknowledged (never beyond what this node holds)
      host.acknowledged(peerName, owner, Math.max(0, Math.min(peerHolds, position.getSerial())));
      long compacted = host.compactedThrough(owner);
      if (peerHolds < compacted) {
        // this node (a relay) removed tombstones of the owner the peer has not seen
        LOG.infof("Peer '%s' was away past the compaction of '%s' tombstones here (it holds serial %d, "
            + "tombstones up to %d are gone): full synchronization of '%s' with a sweep", peerName, owner,
            peerHolds, compacted, owner);
        queue(new CatchUp(owner, 0, true, true, 0));
        continue;
      }
      // always read, even if the peer seems to hold as much: a batch of this owner applied
      // while the peer was registering was relayed before the peer counted, and is in the
      // database but in no outbox; the read finds it
      queue(new CatchUp(owner, peerHolds, false, false, 0));
    }
  }

  /**
   * The peer asks for everything again (with {@code verify}, it compares content and repairs,
   * which implies the sweep); false if too many are waiting already (the caller ends the stream).
   */
  boolean resyncRequested(long requestId, boolean clear, boolean verify) {
    if (queued.size() >= MAX_QUEUED) {
      return false;
    }
    LOG.infof("Peer '%s' asks for a full resynchronization%s", peerName,
        verify ? " with a sweep and a content check" : clear ? " with a sweep" : "");
    queue(new CatchUp(host.nodeName(), 0, true, clear || verify, verify, requestId));
    return true;
  }

  /**
   * Queues a full synchronization with a sweep of one owner (null: this node and every owner it
   * relays); with {@code verify}, the peer compares what it holds with what it receives and repairs.
   */
  void pushFullSync(String onlyOwner, boolean verify) {
    if (onlyOwner == null || onlyOwner.equals(host.nodeName())) {
      queueOnce(host.nodeName(), verify);
    }
    for (OwnerPosition position : host.heldPositions()) {
      String owner = position.getOwner();
      if (!owner.equals(host.nodeName()) && !owner.equals(peerName) && (onlyOwner == null || onlyOwner.equals(owner))) {
        queueOnce(owner, verify);
      }
    }
  }

  /**
   * Queues a pushed full synchronization unless one of the owner waits already that does as much
   * (it would send the same; a verifying one also covers a plain one).
   */
  private void queueOnce(String owner, boolean verify) {
    for (CatchUp waiting : queued) {
      if (waiting.owner.equals(owner) && waiting.full && waiting.sweep && waiting.resyncRequestId == 0
          && (waiting.verify || !verify)) {
        return;
      }
    }
    queue(new CatchUp(owner, 0, true, true, verify, 0));
  }

  /** A resynchronization this node asked for, and who waits for its report. */
  private record ResyncWaiter(ResyncMode mode, CompletableFuture<ResyncReport> done) {}

  /**
   * A change of the owner after {@code after} could not be offered (its policy threw): reads the
   * owner's objects from there again, unless a catch-up that will read them is running or queued.
   */
  void catchUpFrom(String owner, long after) {
    if (running != null && running.owner.equals(owner) && !running.readAll && running.cursor <= after) {
      return;
    }
    for (CatchUp waiting : queued) {
      if (waiting.owner.equals(owner) && waiting.cursor <= after) {
        return;
      }
    }
    queue(new CatchUp(owner, after, false, false, 0));
  }

  /** Sends changes the peer answered as parked once more, ahead of the outbox (for caughtUp's report). */
  void recheck(List<Change> changes) {
    markers.add(Envelope.newBuilder().setChanges(positions.recheck(changes)).build());
  }

  /** Registers a resynchronization this node asks for; returns its id for the request. */
  long awaitResync(ResyncMode mode, CompletableFuture<ResyncReport> done) {
    long id = ++nextResyncId;
    resyncWaiters.put(id, new ResyncWaiter(mode, done));
    return id;
  }

  /** The peer's full synchronization answering request {@code id} was applied here, with these counts. */
  void resyncApplied(long id, long received, long repaired, long removed) {
    ResyncWaiter waiter = resyncWaiters.remove(id);
    if (waiter != null) {
      waiter.done().complete(new ResyncReport(peerName, waiter.mode(), received, repaired, removed));
    }
  }

  void awaitCaughtUp(CompletableFuture<Void> done) {
    caughtUpWaiters.add(done);
  }

  /** Completes the caught-up waiters once nothing is left to send or to be acknowledged. */
  void checkCaughtUp(boolean nothingUrgent) {
    if (!caughtUpWaiters.isEmpty() && nothingUrgent && positions.nothingInFlight() && outbox.size() == 0
        && !outbox.holding() && running == null && markers.isEmpty()) {
      caughtUpWaiters.forEach(f -> f.complete(null));
      caughtUpWaiters.clear();
    }
  }

  /** Fails every waiter: the stream ended. */
  void closed(IllegalStateException ended) {
    caughtUpWaiters.forEach(f -> f.completeExceptionally(ended));
    caughtUpWaiters.clear();
    resyncWaiters.values().forEach(w -> w.done().completeExceptionally(ended));
    resyncWaiters.clear();
  }

  // ---- PeerStream.Source ---------------------------------------------------------------------

  @Override
  public Envelope next(long byteBudget) {
    while (true) {
      Envelope marker = markers.poll();
      if (marker != null) {
        return marker;
      }
      List<Change> batch = outbox.poll(host.outboxBatchSize(), byteBudget);
      if (!batch.isEmpty()) {
        stats.changesSent(batch.size());
        Envelope start = heldStart(batch);
        Envelope changes = Envelope.newBuilder().setChanges(positions.batch(batch)).build();
        if (start != null) {
          markers.add(changes); // right after its start marker
          return start;
        }
        return changes;
      }
      if (!finishCatchUp()) {
        return null;
      }
    }
  }

  @Override
  public Envelope positionsOnly() {
    if (outbox.size() == 0 && !positions.moved().isEmpty()) {
      return Envelope.newBuilder().setChanges(positions.batch(List.of())).build();
    }
    return null;
  }

  @Override
  public void drained(boolean nothingUrgent) {
    readMore();
    checkCaughtUp(nothingUrgent);
  }

  // ---- catch-ups -------------------------------------------------------------------------------

  private void queue(CatchUp next) {
    positions.lowerTo(next.owner, next.cursor);
    if (running == null) {
      begin(next);
    } else {
      queued.add(next);
    }
  }

  private void begin(CatchUp next) {
    running = next;
    positions.lowerTo(next.owner, next.cursor);
    if (next.full) {
      Envelope start = Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder()
          .setKind(SyncMarker.Kind.FULL_SYNC_START).setOwner(next.owner).setVerify(next.verify)).build();
      if (view != null && !view.mayName(next.owner)) {
        next.heldStart = start; // sent before the owner's first object, if one goes to the peer
      } else {
        markers.add(start);
      }
    }
  }

  /** The running full synchronization's start marker, if held back and {@code batch} holds an object of its owner. */
  private Envelope heldStart(List<Change> batch) {
    CatchUp sync = running;
    if (sync == null || sync.heldStart == null) {
      return null;
    }
    for (Change change : batch) {
      if (!change.getEphemeral() && change.getOwner().equals(sync.owner)) {
        Envelope start = sync.heldStart;
        sync.heldStart = null;
        return start;
      }
    }
    return null;
  }

  /** How far the catch-ups of an owner have read, for {@link PositionTracker#complete}. */
  private long limit(String owner) {
    long limit = Long.MAX_VALUE;
    if (running != null && running.owner.equals(owner)) {
      if (running.full) {
        return -1;
      }
      if (!running.readAll) {
        limit = running.cursor;
      }
    }
    for (CatchUp waiting : queued) {
      if (waiting.owner.equals(owner)) {
        limit = Math.min(limit, waiting.cursor);
      }
    }
    return limit;
  }

  /** Ends a catch-up whose objects have all been sent; returns whether there is more to send. */
  private boolean finishCatchUp() {
    if (running == null || !running.readAll || running.endSent) {
      return false;
    }
    running.endSent = true;
    CatchUp done = running;
    running = null;
    LOG.debugf("Caught up peer '%s' with %d objects of '%s'", peerName, done.objectsRead, done.owner);
    if (done.full) {
      long position = positions.complete(done.owner);
      positions.sentThrough(done.owner, position);
      if (done.heldStart == null) { // a peer that was sent nothing of an owner it may not name hears nothing of it
        markers.add(Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder()
            .setKind(SyncMarker.Kind.FULL_SYNC_END).setOwner(done.owner).setSerial(position)
            .setSweep(done.sweep).setResyncRequestId(done.resyncRequestId)).build());
      }
    }
    CatchUp next = queued.poll();
    if (next != null) {
      begin(next);
    }
    return true;
  }

  /** Reads the next chunk of the running catch-up when the outbox runs low. */
  private void readMore() {
    CatchUp reading = running;
    if (reading == null || reading.readAll || reading.reading || outbox.size() >= 2 * host.outboxBatchSize()) {
      return;
    }
    reading.reading = true;
    long after = reading.cursor;
    String peer = peerName;
    host.pool().execute(() -> {
      CatchUpChunk chunk;
      try {
        // a full synchronization sends the latest states (the peer replaces what it has); a
        // catch-up also sends the earlier states of types whose every change counts
        chunk = host.readCatchUp(reading.owner, after, CHUNK, !reading.full);
      } catch (RuntimeException e) {
        LOG.errorf(e, "Could not read catch-up for peer '%s'", peer);
        serial.execute(() -> fail.accept(Status.INTERNAL, "this node could not read its catch-up: " + e));
        return;
      }
      // policies decide here, off the serial executor (an object-level policy may read the database)
      List<Outgoing> allowed = new ArrayList<>(chunk.changes().size());
      Outgoing undecided = null;
      int decided = 0;
      for (Outgoing change : chunk.changes()) {
        try {
          // a state the peer may hold: for coalescing types, the latest one through its position
          // (the cursor); for types sending every change, the one this change replaced
          long holds = reading.from < 0 ? -1 : change.coalesce() ? reading.from : change.change().getSerial() - 1;
          Outgoing toSend = host.toSend(peer, change, holds);
          if (toSend != null) {
            allowed.add(toSend);
          }
        } catch (RuntimeException e) {
          // the chunk is in serial order: what follows waits, and the cursor stays below it
          undecided = change;
          sendFailures.failed(host.nodeName(), peer, "decide the send policies of", change.key(), e);
          break;
        }
        decided++;
      }
      Outgoing failed = undecided;
      int read = decided;
      serial.execute(() -> {
        for (Outgoing change : allowed) {
          outbox.offer(change);
        }
        stats.catchUpRead(read);
        reading.objectsRead += read;
        if (failed == null) {
          sendFailures.succeeded();
          reading.cursor = Math.max(reading.cursor, chunk.lastSerial());
          reading.readAll = chunk.complete();
          reading.reading = false;
        } else {
          // read again from the change that could not be decided, after a backoff (reading stays
          // set meanwhile, so the drain does not ask again at once)
          reading.cursor = Math.max(reading.cursor, failed.change().getSerial() - 1);
          host.scheduler().schedule(() -> serial.execute(() -> {
            reading.reading = false;
            drain.run();
          }), sendFailures.nextDelayMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        drain.run();
      });
    });
  }
}
