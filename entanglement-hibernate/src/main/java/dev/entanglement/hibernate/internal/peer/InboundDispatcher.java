package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.internal.core.RelayGaps;
import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.core.SerialExecutor;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.ResyncRequest;
import dev.entanglement.proto.v1.SyncMarker;
import com.google.protobuf.Descriptors.FieldDescriptor;
import dev.entanglement.hibernate.internal.core.StoreUnavailableException;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.jboss.logging.Logger;

/**
 * Dispatches every envelope received on one stream to the room that acts on it, and acts on
 * nothing before the peer's Hello was accepted: any other first message ends the stream with
 * INVALID_ARGUMENT naming its kind, and is neither applied nor answered.
 *
 * <h2>Concurrency</h2>
 * {@link #onNext} runs on the transport thread (gRPC calls it one message at a time) and only
 * hands work off; {@code helloSeen} is confined to it. Received batches and sync markers go to
 * the apply executor through {@code arrived} (appended by the transport thread, taken in order by
 * the apply executor; bounded by the apply window the peer was granted): {@code fullSyncs} and
 * {@code relayGaps} are confined to the apply executor (a full synchronization holds one key per
 * object received, as the sweep needs, and names at most {@link #REPAIRS_NAMED} repairs).
 * Everything else goes to the serial executor, which owns {@code rejectionsLogged}.
 */
final class InboundDispatcher {
  private static final Logger LOG = Logger.getLogger(InboundDispatcher.class);
  /** Acks of unknown requests (a broken or hostile peer): once a minute per peer at WARN. */
  private static final LimitedLog unknownAcks = new LimitedLog(LOG);
  /** Changes a browser may not make (it owns nothing persistent): once a minute per browser at WARN. */
  private static final LimitedLog browserRefusals = new LimitedLog(LOG);
  /** How many repaired objects one full synchronization names in its log line. */
  static final int REPAIRS_NAMED = 20;

  /** One owner's full synchronization in progress: what was received, whether it verifies, what it repaired. */
  private static final class FullSync {
    final Set<String> keys = new HashSet<>();
    final boolean verify;
    long repaired;
    final List<String> repairsNamed = new ArrayList<>();

    FullSync(boolean verify) {
      this.verify = verify;
    }
  }

  private final PeerConnection connection;
  private final PeerHost host;
  private final SerialExecutor serial;
  private final SerialExecutor applySerial;
  private final PeerStream stream;
  private final CatchUpPlanner planner;
  private final PeerStats stats;
  private boolean helloSeen;
  private final Map<String, FullSync> fullSyncs = new HashMap<>();
  /** Batches and markers received and not yet applied, in arrival order (bounded by the apply window granted). */
  private final ConcurrentLinkedQueue<Envelope> arrived = new ConcurrentLinkedQueue<>();
  private final Map<RejectReason, Long> rejectionsLogged = new EnumMap<>(RejectReason.class);
  /** This stream's changes ignored because their owner was connected directly (apply executor). */
  private final RelayGaps relayGaps = new RelayGaps();

  InboundDispatcher(PeerConnection connection, PeerHost host, SerialExecutor serial, SerialExecutor applySerial,
      PeerStream stream, CatchUpPlanner planner, PeerStats stats) {
    this.connection = connection;
    this.host = host;
    this.serial = serial;
    this.applySerial = applySerial;
    this.stream = stream;
    this.planner = planner;
    this.stats = stats;
  }

  /** Transport thread: count, check the order, hand off. */
  void onNext(Envelope envelope) {
    stream.received();
    stats.received(envelope.getSerializedSize());
    if (envelope.getBodyCase() == Envelope.BodyCase.HELLO) {
      boolean first = !helloSeen;
      helloSeen = true;
      serial.execute(() -> {
        if (first) {
          connection.onHello(envelope.getHello());
        } else {
          connection.onPositions(envelope.getHello()); // ends the stream unless positions are awaited
        }
      });
      return;
    }
    if (!helloSeen || !connection.streaming()) {
      // the peer is granted nothing after its Hello until the Hello is accepted: only a first message gets here
      String refusal = helloSeen ? "a %s arrived before the peer's Hello was accepted".formatted(kind(envelope))
          : "the first message must be a Hello, got a " + kind(envelope);
      serial.execute(() -> connection.fail(Status.INVALID_ARGUMENT, refusal));
      return;
    }
    String peer = connection.peerName();
    if (connection.browser() && envelope.getBodyCase() != Envelope.BodyCase.CHANGES) {
      BrowserRules.Verdict verdict = BrowserRules.inbound(envelope, peer);
      if (verdict instanceof BrowserRules.End end) {
        serial.execute(() -> connection.fail(Status.PERMISSION_DENIED, end.description()));
        return;
      }
      if (verdict instanceof BrowserRules.Answer answer) {
        serial.execute(() -> {
          stream.grant(1);
          stream.urgent(answer.answer());
        });
        return;
      }
      dispatch(peer, ((BrowserRules.Pass) verdict).envelope());
      return;
    }
    dispatch(peer, envelope);
  }

  /** Transport thread: hands an envelope of an accepted peer to the room that acts on it. */
  private void dispatch(String peer, Envelope envelope) {
    switch (envelope.getBodyCase()) {
      case CHANGES -> {
        stats.changesReceived(envelope.getChanges().getChangesCount());
        arrived.add(envelope);
        applySerial.execute(this::applyArrived);
      }
      case SYNC_MARKER -> {
        arrived.add(envelope);
        applySerial.execute(this::applyArrived);
      }
      case ACK -> serial.execute(() -> onAck(peer, envelope.getAck()));
      case RESYNC_REQUEST -> serial.execute(() -> onResyncRequest(envelope.getResyncRequest()));
      case UPDATE_REQUEST -> serial.execute(() -> whileStreaming(() -> host.onUpdateRequest(peer, envelope.getUpdateRequest())));
      case REQUEST_OUTCOME -> serial.execute(() -> whileStreaming(() -> host.onRequestOutcome(peer, envelope.getRequestOutcome())));
      case OWNER_REMOVED -> serial.execute(() -> whileStreaming(() -> host.onOwnerRemoved(peer, envelope.getOwnerRemoved())));
      case ROUTES -> serial.execute(() -> whileStreaming(() -> host.onRoutes(peer, envelope.getRoutes())));
      case TRANSITION -> serial.execute(() -> whileStreaming(() -> host.onTransition(peer, envelope.getTransition())));
      case HEARTBEAT -> serial.execute(() -> stream.grant(1));
      default -> serial.execute(() -> {
        // a newer peer's message kind: skip it, but keep the stream going
        LOG.debugf("Ignoring an envelope of an unknown kind from peer '%s'", peer);
        stream.grant(1);
      });
    }
  }

  /** The name of an envelope's message kind, e.g. "SyncMarker". */
  static String kind(Envelope envelope) {
    if (envelope.getBodyCase() == Envelope.BodyCase.BODY_NOT_SET) {
      return "message of no kind (an empty envelope)";
    }
    FieldDescriptor field = Envelope.getDescriptor().findFieldByNumber(envelope.getBodyCase().getNumber());
    return field == null ? "message of an unknown kind" : field.getMessageType().getName();
  }

  /** Apply executor: after the pause is lifted, what waited is applied, in arrival order. */
  void releaseHeld() {
    applyArrived();
  }

  // ---- apply executor -------------------------------------------------------------------------

  /**
   * Applies what arrived, in arrival order, unless the flow is paused (it then waits in
   * {@code arrived} until {@link #releaseHeld}): consecutive batches that queued up while an
   * earlier one was applied go together in one transaction ({@link BatchGroup}); a marker is
   * applied on its own, between them.
   */
  private void applyArrived() {
    String peer = connection.peerName();
    while (connection.streaming() && !stream.paused()) {
      Envelope next = arrived.peek();
      if (next == null) {
        return;
      }
      if (next.getBodyCase() == Envelope.BodyCase.SYNC_MARKER) {
        arrived.poll();
        onSyncMarker(peer, next.getSyncMarker());
        serial.execute(() -> answered(null));
        continue;
      }
      List<ChangeBatch> group = new ArrayList<>();
      int changes = 0;
      while ((next = arrived.peek()) != null && next.getBodyCase() == Envelope.BodyCase.CHANGES
          && (group.isEmpty() || BatchGroup.joins(group.get(0), next.getChanges(), changes))) {
        arrived.poll();
        group.add(next.getChanges());
        changes += next.getChanges().getChangesCount();
      }
      if (!applyGroup(peer, new BatchGroup(group))) {
        return;
      }
    }
    // the stream ended: nothing more is applied from it
  }

  /** Applies one group and answers each of its batches; false when the stream must end. */
  private boolean applyGroup(String peer, BatchGroup received) {
    for (ChangeBatch batch : received.batches()) {
      collectFullSyncKeys(batch);
      if (batch.getCertificatesCount() > 0 && !connection.browser()) {
        host.certificates(peer, batch.getCertificatesList()); // before its changes are verified with them
      }
    }
    // after the certificates: an owner first met in this batch is one whose signed state is held
    List<ChangeBatch> screened = new ArrayList<>(received.batches().size());
    for (ChangeBatch batch : received.batches()) {
      screened.add(screenPositions(peer, batch));
    }
    BatchGroup group = new BatchGroup(screened);
    List<Ack> acks;
    try {
      acks = group.split(connection.browser() ? applyFromBrowser(peer, group.merged())
          : host.apply(peer, group.merged(), verifyingOwners(), relayGaps));
    } catch (StoreUnavailableException e) {
      // nothing of the group was answered: ending the stream makes the peer send it again
      serial.execute(() -> connection.fail(Status.UNAVAILABLE, e.getMessage()));
      return false;
    }
    for (int k = 0; k < acks.size(); k++) {
      ChangeBatch batch = group.batches().get(k);
      Ack ack = acks.get(k);
      if (!batch.getRecheck()) { // a recheck's rejections were counted when first answered
        stats.answered(ack);
        for (Outcome outcome : ack.getOutcomesList()) {
          if (outcome.getStatus() == OutcomeStatus.REJECTED) {
            host.rejected(peer, true, outcome.getReason());
          } else if (outcome.getRepaired()) {
            countRepair(batch.getChanges(outcome.getIndex()).getOwner(), outcome.getMessage());
          }
        }
      }
      serial.execute(() -> answered(Envelope.newBuilder().setAck(ack).build()));
    }
    return true;
  }

  /** A browser's batch: its own ephemeral objects are applied, the rest is rejected with the reason. */
  private Ack applyFromBrowser(String peer, ChangeBatch batch) {
    BrowserRules.Screened screened = BrowserRules.screen(batch, peer);
    if (!screened.refused().isEmpty()) {
      browserRefusals.warn(peer, "Node '%s' rejected %d of %d changes from browser '%s' (NOT_OWNER): %s".formatted(
          host.nodeName(), screened.refused().size(), batch.getChangesCount(), peer,
          screened.refused().get(0).getMessage()));
    }
    Ack applied = screened.allowed().getChangesCount() == 0 ? null : host.apply(peer, screened.allowed(), Set.of(), relayGaps);
    return screened.answer(batch.getRequestId(), applied == null ? null : BrowserRules.anonymous(applied, screened.allowed(), peer));
  }

  /**
   * The batch without the positions the peer may not give (see {@link SpeaksFor}): a forged
   * position would make this node skip the owner's states for good. One that would have moved this
   * node's position is refused (counted, logged); one at or below it changes nothing anyway (a
   * relay of an owner connected here directly sends such positions in the ordinary course).
   */
  private ChangeBatch screenPositions(String peer, ChangeBatch batch) {
    if (batch.getPositionsCount() == 0) {
      return batch;
    }
    List<dev.entanglement.proto.v1.OwnerPosition> kept = null;
    for (int k = 0; k < batch.getPositionsCount(); k++) {
      dev.entanglement.proto.v1.OwnerPosition position = batch.getPositions(k);
      String problem = host.speaksForProblem(SpeaksFor.Claim.POSITION, peer, position.getOwner());
      if (problem == null) {
        if (kept != null) {
          kept.add(position);
        }
        continue;
      }
      if (kept == null) {
        kept = new ArrayList<>(batch.getPositionsList().subList(0, k));
      }
      if (!position.getOwner().equals(host.nodeName()) && position.getSerial() > host.heldPosition(position.getOwner())) {
        host.refusedClaim(peer, SpeaksFor.Claim.POSITION, position.getOwner(),
            "serial %d: %s".formatted(position.getSerial(), problem));
      }
    }
    return kept == null ? batch : batch.toBuilder().clearPositions().addAllPositions(kept).build();
  }

  private void collectFullSyncKeys(ChangeBatch batch) {
    if (fullSyncs.isEmpty()) {
      return;
    }
    for (Change change : batch.getChangesList()) {
      FullSync sync = fullSyncs.get(change.getOwner());
      if (sync != null) {
        String key = host.objectKey(change);
        if (key != null) {
          sync.keys.add(key);
        }
      }
    }
  }

  /** The owners whose full synchronization verifies content (empty in the common case). */
  private Set<String> verifyingOwners() {
    if (fullSyncs.isEmpty()) {
      return Set.of();
    }
    Set<String> owners = new HashSet<>();
    fullSyncs.forEach((owner, sync) -> {
      if (sync.verify) {
        owners.add(owner);
      }
    });
    return owners;
  }

  private void countRepair(String owner, String what) {
    FullSync sync = fullSyncs.get(owner);
    if (sync != null) {
      sync.repaired++;
      if (sync.repairsNamed.size() < REPAIRS_NAMED) {
        sync.repairsNamed.add(what);
      }
    }
  }

  private void onSyncMarker(String peer, SyncMarker marker) {
    switch (marker.getKind()) {
      case FULL_SYNC_START -> fullSyncs.put(marker.getOwner(), new FullSync(marker.getVerify()));
      case FULL_SYNC_END -> {
        String problem = host.speaksForProblem(SpeaksFor.Claim.SWEEP, peer, marker.getOwner());
        if (problem != null) {
          // nothing removed, no position set: the sweep and the end position are the peer's word only
          fullSyncs.remove(marker.getOwner());
          host.refusedClaim(peer, SpeaksFor.Claim.SWEEP, marker.getOwner(), problem);
          if (marker.getResyncRequestId() != 0) {
            serial.execute(() -> planner.resyncApplied(marker.getResyncRequestId(), 0, 0, 0));
          }
          return;
        }
        FullSync sync = fullSyncs.remove(marker.getOwner());
        Set<String> received = sync == null ? Set.of() : sync.keys;
        long repaired = sync == null ? 0 : sync.repaired;
        int removed = host.endFullSync(peer, marker, received, repaired, sync == null ? List.of() : sync.repairsNamed);
        if (marker.getResyncRequestId() != 0) {
          int count = received.size();
          serial.execute(() -> planner.resyncApplied(marker.getResyncRequestId(), count, repaired, removed));
        }
      }
      default -> LOG.debugf("Ignoring a sync marker of unknown kind from peer '%s'", peer);
    }
  }

  // ---- serial executor ------------------------------------------------------------------------

  private void whileStreaming(Runnable work) {
    stream.grant(1);
    if (connection.streaming()) {
      work.run();
    }
  }

  /** A received batch or marker was applied: answer it (a batch), and let the peer send one more. */
  private void answered(Envelope ack) {
    if (!connection.streaming()) {
      return;
    }
    if (ack != null) {
      stream.urgent(ack);
    }
    stream.grant(1);
    stream.drain();
  }

  private void onResyncRequest(ResyncRequest request) {
    stream.grant(1);
    if (!connection.streaming()) {
      return;
    }
    if (!planner.resyncRequested(request.getRequestId(), request.getClear(), request.getVerify())) {
      connection.fail(Status.RESOURCE_EXHAUSTED, "peer '%s' asked for more than %d resynchronizations that are not done yet"
          .formatted(connection.peerName(), CatchUpPlanner.MAX_QUEUED));
      return;
    }
    stream.drain();
  }

  private void onAck(String peer, Ack ack) {
    stream.grant(1);
    List<Change> sent = planner.positions().changesOf(ack.getRequestId());
    boolean recheck = planner.positions().wasRecheck(ack.getRequestId());
    Map<String, Long> positions = planner.positions().acknowledged(ack.getRequestId());
    if (positions == null) {
      unknownAcks.warn(String.valueOf(peer), "Peer '%s' acknowledged unknown request %d".formatted(peer, ack.getRequestId()));
      return;
    }
    ParkedAtPeer parked = connection.parkedAtPeer();
    boolean tracking = !parked.isEmpty();
    for (Outcome outcome : ack.getOutcomesList()) {
      if ((tracking || outcome.getStatus() == OutcomeStatus.REJECTED) && outcome.getIndex() < sent.size()) {
        Change change = sent.get(outcome.getIndex());
        String key = host.objectKey(change);
        if (key != null) {
          parked.answered(key, change, outcome); // what caughtUp reports as parked at the peer
        }
      }
      if (recheck) {
        continue; // counted (and logged) when first answered
      }
      if (outcome.getStatus() == OutcomeStatus.REJECTED) {
        stats.rejectedByPeer(outcome.getReason());
        host.rejected(peer, false, outcome.getReason());
        // log each reason once at WARN (the receiver logs and parks every rejection), then DEBUG
        long seen = rejectionsLogged.merge(outcome.getReason(), 1L, Long::sum);
        if (seen == 1) {
          LOG.warnf("Peer '%s' rejected a change (%s): %s (it keeps the change and retries it; "
              + "further %s rejections from this peer are logged at DEBUG)",
              peer, outcome.getReason(), outcome.getMessage(), outcome.getReason());
        } else {
          LOG.debugf("Peer '%s' rejected a change (%s): %s", peer, outcome.getReason(), outcome.getMessage());
        }
      } else {
        stats.acknowledgedByPeer();
      }
    }
    positions.forEach((owner, position) -> host.acknowledged(peer, owner, position));
    planner.checkCaughtUp(stream.nothingUrgent());
  }
}
