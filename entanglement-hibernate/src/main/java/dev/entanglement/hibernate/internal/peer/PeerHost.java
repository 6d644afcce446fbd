package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.internal.core.CatchUpChunk;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.core.RelayGaps;
import dev.entanglement.hibernate.internal.core.Ticker;
import dev.entanglement.hibernate.internal.transport.StreamHandler;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.OwnerRemoved;
import dev.entanglement.proto.v1.Routes;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What a peer connection needs from its node. Implementations are thread-safe. As the transport's
 * {@link StreamHandler.Factory}, it makes a {@link PeerConnection} for every new stream.
 */
public interface PeerHost extends StreamHandler.Factory<PeerConnection> {
  @Override
  String nodeName();

  @Override
  default PeerConnection newStream(boolean dialer, String address) {
    return new PeerConnection(this, dialer, address);
  }

  @Override
  default PeerConnection newBrowserStream(String peerName, String address) {
    return PeerConnection.browser(this, peerName, address);
  }

  /** The clock of heartbeats and silence detection. */
  default Ticker ticker() {
    return Ticker.system();
  }

  int outboxBatchSize();

  /** Most changes waiting in one peer's outbox before its stream is closed (it then catches up from the database). */
  default int outboxMaxEntries() {
    return 100_000;
  }

  int applyWindow();

  /** Bytes per second this node may send to one peer; 0 for no limit. */
  long bandwidthLimit();

  Duration heartbeatInterval();

  Duration heartbeatTimeout();

  /** How long a stream may make no progress while changes wait for the peer (entanglement.peer.stall_timeout_ms). */
  default Duration stallTimeout() {
    return Duration.ofMinutes(1);
  }

  /** The largest message a peer accepts (entanglement.peer.max_message_bytes): batches stay under it. */
  default int maxMessageBytes() {
    return 16 * 1024 * 1024;
  }

  /**
   * The first delay before a change that could not be decided or offered for a peer (its send
   * policy threw) is read again from the database; it doubles with each failure up to
   * {@link #sendRetryMaxDelay}.
   */
  default Duration sendRetryInitialDelay() {
    return Duration.ofMillis(100);
  }

  default Duration sendRetryMaxDelay() {
    return Duration.ofSeconds(30);
  }

  /** The shared pool under the per-peer serial executors. */
  Executor pool();

  ScheduledExecutorService scheduler();

  // ---- the sending side -------------------------------------------------------------------

  /**
   * Every serial below this one is finished: its transaction committed (and its changes were
   * offered to the connected peers) or rolled back.
   */
  long lowestUnfinishedSerial();

  /** The highest serial this node has given out (stored or in a transaction still open). */
  default long lastSerial() {
    return lowestUnfinishedSerial() - 1;
  }

  /**
   * The highest serial of this node's objects the peer may hold unless this node's database lost
   * commits: at the peer's first Hello since this node started, the last serial its database had
   * at start (the peer cannot have heard of serials given out since without connecting first;
   * through a relay it can, which costs a full synchronization it did not need); afterwards the
   * last serial given out. Checking against the serial at start matters because lost serials are
   * given out again, to other objects, as soon as this node commits.
   */
  default long highestPeerMayHold(String peer) {
    return lastSerial();
  }

  /** The owner's tombstones held here (this node's or a relayed owner's) up to this serial are compacted away. */
  long compactedThrough(String owner);

  /** Makes sure this node's next serial is above {@code serial} (a peer holds that much). */
  void ensureSerialAbove(long serial);

  /**
   * The peer holds serials of this node beyond what this node has (its database lost commits
   * or was restored): makes every stored and future serial of this node's objects greater than
   * {@code held}, so the peer converges to what this node really has. Blocking (one update).
   */
  default void moveSerialsAbove(long held) {
    ensureSerialAbove(held);
  }

  /**
   * Reads (blocking) the owner's objects changed after {@code after}, in serial order; with
   * {@code everyChange}, also the logged earlier states of types that send every change.
   */
  CatchUpChunk readCatchUp(String owner, long after, int limit, boolean everyChange);

  /** The peer has durably applied the owner's objects through {@code serial}. */
  void acknowledged(String peer, String owner, long serial);

  // ---- the receiving side -----------------------------------------------------------------

  /**
   * How far this node holds each owner's objects: every owner it holds objects of, at serial 0
   * when it has no position of the owner yet. A peer's catch-up covers each of them.
   */
  List<OwnerPosition> heldPositions();

  /**
   * The positions for this node's Hello: {@link #heldPositions} with, per owner, the highest
   * serial of its objects stored here ({@code highest}). Blocking (reads the database).
   */
  default List<OwnerPosition> helloPositions() {
    return heldPositions();
  }

  /** How far this node holds one other owner's objects (durably applied and relayed). */
  long heldPosition(String owner);

  /**
   * The lowest serial of an owner's change held back from the peer until this node can decide
   * it (a raw change of a type not deployed here, which a send policy needs to read), or
   * {@code Long.MAX_VALUE}: the peer's position of the owner stays below it.
   */
  default long lowestHeld(String peer, String owner) {
    return Long.MAX_VALUE;
  }

  /**
   * Applies a received batch durably and returns the answer. Blocking; never throws.
   *
   * @param verifyOwners owners in a verifying full synchronization: their changes are compared
   *     with the rows held here and rewritten where missing or different (answered repaired)
   * @param gaps the stream's changes ignored because their owner is connected directly
   */
  Ack apply(String peer, ChangeBatch batch, Set<String> verifyOwners, RelayGaps gaps);

  /** The key {@code entity#id} of a received change, or null if it cannot be read. */
  String objectKey(Change change);

  /**
   * Completes a full synchronization of an owner: removes (when the marker says sweep) the
   * owner's objects that were not received, and sets the owner's position. Blocking; never
   * throws.
   *
   * @param repaired rows a verifying synchronization rewrote, with a few of them named
   * @return how many objects the sweep removed
   */
  int endFullSync(String peer, SyncMarker end, Set<String> received, long repaired, List<String> repairedExamples);

  /** An update request arrived from a peer (for this node, or to pass on). Never blocks. */
  void onUpdateRequest(String peer, UpdateRequest request);

  /** The outcome of a request this node sent or passed on. Never blocks. */
  void onRequestOutcome(String peer, RequestOutcome outcome);

  /**
   * What the peer answered as parked, kept per peer name across its streams (for
   * {@code caughtUp}); the default keeps it per stream.
   */
  default ParkedAtPeer parkedAt(String peer) {
    return new ParkedAtPeer();
  }

  /**
   * A change sent before, to send again (its key, priority and coalescing) if it is still this
   * node's current state of its object (so sending it again is what a catch-up would do, and can
   * never bring back an older state); null if a newer state (or none) is stored here now.
   * Blocking (reads the database); throws if it cannot tell.
   */
  default Outgoing resendable(Change change) {
    return null;
  }

  /** Whether the policies deny sending this change to the peer (it is then never on the wire). */
  default boolean sendDenied(String peer, Outgoing change) {
    return false;
  }

  /**
   * What goes to the peer for a change: the change itself, a withdrawal in its place (its new
   * state is denied to the peer, the state before it was allowed: the peer may hold the object),
   * or null (denied, and the peer never could hold the object: it hears nothing of it). A
   * withdrawal being passed on goes only to a peer allowed the copy this node had. See
   * docs/design/withdrawal.md. May block (policies may read the database; catch-up reads a prior
   * state); throws if the policies cannot decide.
   *
   * @param after the peer's position of the change's owner when the change comes from a catch-up
   *     read (the state it may hold is the one the first change after it replaced), or -1 for a
   *     live change (whose {@link Outgoing#previous} says what it replaced)
   */
  default Outgoing toSend(String peer, Outgoing change, long after) {
    return sendDenied(peer, change) ? null : change;
  }

  /** A withdrawal of an ephemeral object goes to the peer (decided by the connection): for the log and the counts. */
  default void withdrawing(String peer, Outgoing withdrawal) {}

  /** An owner was removed by an operator somewhere (called on the connection's serial executor). */
  default void onOwnerRemoved(String peer, OwnerRemoved removed) {}

  /**
   * Why the peer may not say {@code claim} about {@code owner} (an unsigned sweep, position,
   * withdrawal or owner removal, see {@link SpeaksFor}), or null when it may; always null without
   * signed state. Must not block.
   */
  default String speaksForProblem(SpeaksFor.Claim claim, String peer, String owner) {
    return null;
  }

  /** Such a claim was refused: counted (NOT_OWNER, per peer and in the meters) and logged once per peer and kind a minute. */
  default void refusedClaim(String peer, SpeaksFor.Claim claim, String owner, String problem) {}

  /** The owner directory's announcement from a peer (called on the connection's serial executor; must not block). */
  default void onRoutes(String peer, Routes routes) {}

  /**
   * Peer node {@code peer} may name {@code owner} from now on (its first object of the owner goes
   * to it): routes to the owner may be announced to it. Called on the connection's serial
   * executor; must not block.
   */
  default void nameable(String peer, String owner) {}

  /**
   * The owners {@code peer} acknowledged positions of on earlier streams (it was told of them
   * then, so it may still be). Any thread.
   */
  default Set<String> acknowledgedOwners(String peer) {
    return Set.of();
  }

  /**
   * Whether the send policies would let peer node {@code peer} have objects of {@code owner} (so it
   * may hear the owner's name before any object goes: routes for creation requests). Any thread.
   */
  default boolean ownerShown(String peer, String owner) {
    return true;
  }

  /** A transition update from a peer (called on the connection's serial executor; must not block). */
  default void onTransition(String peer, TransitionUpdate update) {}

  /** This node's signer when it signs its state ({@code entanglement.signing=required}), else null. */
  default dev.entanglement.hibernate.internal.signing.NodeSigner signer() {
    return null;
  }

  /** The certificates this node verifies others' state with (non-null exactly when {@link #signer} is). */
  default dev.entanglement.hibernate.internal.signing.SignerKeys signerKeys() {
    return null;
  }

  /**
   * Signed state: the chain of signed hand-overs that gives this node an object it took over
   * (see {@code Change.handovers}), empty when it holds none.
   */
  default java.util.List<Change> handoverChain(Change change) {
    return java.util.List.of();
  }

  /** Whether a browser of this name is connected here (this node signs its ephemeral objects). */
  default boolean hostsBrowser(String name) {
    return false;
  }

  /**
   * Certificates a peer sent with a batch, before the batch is verified (apply executor): each is
   * kept when this node trusts it; refusals are logged once per peer a minute. Must not block long.
   */
  default void certificates(String peer, java.util.List<dev.entanglement.proto.v1.OwnerCertificate> certificates) {}

  /** A change was rejected: by the peer ({@code here} false) or here; for metrics. Must not block. */
  default void rejected(String peer, boolean here, RejectReason reason) {}

  // ---- connections ------------------------------------------------------------------------

  /**
   * Called once the peer's Hello is accepted; returns a reason to refuse the connection (e.g. a
   * stream with that peer is already open), or null to accept it.
   */
  String register(PeerConnection connection);

  /** Called once when the connection has ended, whatever ended it. */
  void unregister(PeerConnection connection);
}
