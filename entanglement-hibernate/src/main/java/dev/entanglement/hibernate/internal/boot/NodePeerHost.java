package dev.entanglement.hibernate.internal.boot;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.entanglement.hibernate.EntanglementException;
import dev.entanglement.hibernate.internal.core.RelayGaps;
import dev.entanglement.hibernate.internal.core.CatchUpChunk;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.model.Values;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.PriorStates;
import dev.entanglement.hibernate.internal.peer.ParkedAtPeer;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.SpeaksFor;
import dev.entanglement.hibernate.internal.peer.PeerHost;
import dev.entanglement.hibernate.internal.transport.PeerAddress;
import dev.entanglement.hibernate.internal.transport.ReplicationService;
import dev.entanglement.hibernate.internal.transport.Transports;
import dev.entanglement.hibernate.internal.transport.WebServer;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.OwnerRemoved;
import dev.entanglement.proto.v1.Routes;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.RequestStatus;
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The peer connections' view of the node ({@link PeerHost}): each call goes to the room that
 * owns it (clock, ledger, applier, router, forwarder, policies, registry).
 *
 * <h2>Concurrency</h2>
 * Stateless but for its refusal logs (thread-safe {@code LimitedLog}s, one set per node, so two
 * nodes in one JVM do not silence each other's lines); called from the peers' serial executors and
 * gRPC threads.
 */
final class NodePeerHost implements PeerHost {
  private static final org.jboss.logging.Logger LOG = org.jboss.logging.Logger.getLogger(NodePeerHost.class);
  private final NodeRuntime node;

  NodePeerHost(NodeRuntime node) {
    this.node = node;
  }

  // ---- dialing -------------------------------------------------------------------------------

  ReplicationService replicationService() {
    return new ReplicationService(this, node.peers::opened, node.config.maxMessageBytes());
  }

  /** The browser endpoint (entanglement.web.listen): TLS with the node's certificate when it has one. */
  WebServer webServer() {
    return new WebServer(this, node.peers::opened, node.browserIdentity, node.pool, node.config.maxMessageBytes(),
        node.config.tls() == null ? null : node.config.tls().webServerContext());
  }

  void dial(String target, Channel channel, ManagedChannel owned) {
    node.peers.dial(this, target, channel, owned, node.scheduler, node.config.reconnectInitialDelay(),
        node.config.reconnectMaxDelay());
  }

  void connect(String target) {
    PeerAddress address;
    try {
      address = PeerAddress.parse(target);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("peer address '%s' is invalid; expected %s".formatted(target, e.getMessage()));
    }
    if (address.isNetwork() && !node.config.plaintext() && node.config.tls() == null) {
      throw new EntanglementException(("cannot dial %s: TCP peers need mutual TLS (entanglement.tls.*), "
          + "or entanglement.transport.plaintext=true on a trusted network").formatted(target));
    }
    ManagedChannel channel = Transports.channel(address, node.config.tls());
    dial(address.toString(), channel, channel);
  }

  // ---- settings ------------------------------------------------------------------------------

  @Override
  public String nodeName() {
    return node.config.nodeName();
  }

  @Override
  public int outboxBatchSize() {
    return node.config.outboxBatchSize();
  }

  @Override
  public int outboxMaxEntries() {
    return node.config.outboxMaxEntries();
  }

  @Override
  public int applyWindow() {
    return node.config.applyWindow();
  }

  @Override
  public long bandwidthLimit() {
    return node.config.bandwidthLimit();
  }

  @Override
  public Duration heartbeatInterval() {
    return node.config.heartbeatInterval();
  }

  @Override
  public Duration heartbeatTimeout() {
    return node.config.heartbeatTimeout();
  }

  @Override
  public Duration stallTimeout() {
    return node.config.stallTimeout();
  }

  @Override
  public int maxMessageBytes() {
    return node.config.maxMessageBytes();
  }

  @Override
  public Duration sendRetryInitialDelay() {
    return node.config.reconnectInitialDelay(); // the reconnect backoff: a failure after commit is retried alike
  }

  @Override
  public Duration sendRetryMaxDelay() {
    return node.config.reconnectMaxDelay();
  }

  @Override
  public Executor pool() {
    return node.pool;
  }

  @Override
  public ScheduledExecutorService scheduler() {
    return node.scheduler;
  }

  // ---- the sending side ----------------------------------------------------------------------

  @Override
  public long lowestUnfinishedSerial() {
    return node.clock.lowestUnfinished();
  }

  @Override
  public long lastSerial() {
    return node.clock.last();
  }

  @Override
  public long highestPeerMayHold(String peer) {
    return node.greetedSinceStart.add(peer) ? node.serialAtStart : lastSerial();
  }

  @Override
  public long compactedThrough(String owner) {
    return node.housekeeper.compactedThrough(owner);
  }

  @Override
  public void ensureSerialAbove(long serial) {
    node.clock.ensureAbove(serial);
  }

  @Override
  public void moveSerialsAbove(long held) {
    // a no-op when another peer reported the same loss and the move covered it
    node.clock.moveAbove(held, offset -> node.serialShift.shift(offset));
  }

  @Override
  public CatchUpChunk readCatchUp(String owner, long after, int limit, boolean everyChange) {
    return node.catchUpReader.read(owner, after, limit, everyChange);
  }

  @Override
  public void acknowledged(String peer, String owner, long serial) {
    PeerConnection connection = node.peers.get(peer);
    if (connection != null && connection.browser()) {
      return; // a browser away past compaction gets a full synchronization with a sweep instead
    }
    node.ledger.acknowledged(peer, owner, serial);
  }

  @Override
  public ParkedAtPeer parkedAt(String peer) {
    return node.peers.parkedAt(peer);
  }

  @Override
  public Outgoing resendable(Change change) {
    EntangledType type = node.model.byName(change.getEntity());
    String key = type == null ? null : objectKey(change);
    if (key == null) {
      return null;
    }
    Bookkeeping.ObjectRow row = node.reads.row(key);
    boolean current = row != null && row.serial() == change.getSerial() && row.owner().equals(change.getOwner())
        && row.epoch() == change.getEpoch() && row.deleted() == (change.getOperation() == Operation.DELETE);
    return current ? new Outgoing(key, type.priority(), type.coalesce(), change) : null;
  }

  @Override
  public boolean sendDenied(String peer, Outgoing change) {
    return node.policy.sendDenied(peer, change.change()) != null;
  }

  /**
   * The most earlier states of one object a catch-up asks the policies about (those a peer away
   * may hold): an object changed more often than this while the peer was away is decided on its
   * first ones, from the state the peer held at its position on.
   */
  private static final int MAX_PRIOR_STATES = 64;

  @Override
  public void withdrawing(String peer, Outgoing withdrawal) {
    node.withdrawals.sent(peer, withdrawal.key(), withdrawal.change());
  }

  @Override
  public Outgoing toSend(String peer, Outgoing out, long after) {
    Change change = out.change();
    if (change.getOperation() != Operation.WITHDRAW && node.policy.sendDenied(peer, change) == null) {
      return out;
    }
    Change previous = out.previous();
    Change withdrawal = node.policy.withdrawal(peer, change, previous);
    if (withdrawal == null && previous == null && after >= 0 && !change.getEphemeral()) {
      // a catch-up: the peer may hold the state the first change after its position replaced, or
      // one it was sent after that (applied beyond its position): if it was allowed any of them
      for (PriorStates.Entry prior : node.reads.priorStates(change.getOwner(), out.key(), after, change.getSerial(),
          MAX_PRIOR_STATES)) {
        try {
          previous = Change.parseFrom(prior.state());
        } catch (InvalidProtocolBufferException e) {
          throw new IllegalStateException("the prior state of %s at serial %d is unreadable: %s"
              .formatted(out.key(), prior.serial(), e.getMessage()), e);
        }
        withdrawal = node.policy.withdrawal(peer, change, previous);
        if (withdrawal != null) {
          break;
        }
      }
    }
    if (withdrawal == null) {
      return null;
    }
    PeerConnection connection = node.peers.get(peer);
    if (connection != null && !connection.mayName(withdrawal.getOwner())) {
      // handed over to an owner the peer may not know of: a withdrawal would name it (issue 17's
      // first rule wins); the peer keeps its copy under the old owner (docs/design/withdrawal.md)
      LOG.debugf("Node '%s' does not withdraw %s from peer '%s': it would name owner '%s', which the peer may not know",
          nodeName(), out.key(), peer, withdrawal.getOwner());
      return null;
    }
    node.withdrawals.sent(peer, out.key(), withdrawal);
    return withdrawal == change ? out : new Outgoing(out.key(), out.priority(), out.coalesce(), withdrawal, previous);
  }

  // ---- the receiving side --------------------------------------------------------------------

  @Override
  public List<OwnerPosition> heldPositions() {
    // every owner whose objects this node holds, also those it has no position of yet (serial 0)
    Map<String, Long> positions = node.applier.positions();
    List<OwnerPosition> held = new ArrayList<>();
    for (String owner : node.applier.heldOwners()) {
      held.add(OwnerPosition.newBuilder().setOwner(owner).setSerial(positions.getOrDefault(owner, 0L)).build());
    }
    return held;
  }

  @Override
  public List<OwnerPosition> helloPositions() {
    Map<String, Long> highest = new HashMap<>();
    try {
      highest.putAll(node.reads.highestSerials());
    } catch (RuntimeException e) {
      // only a check of the owners' own databases: the Hello goes on without it
    }
    Map<String, Long> positions = node.applier.positions();
    List<OwnerPosition> hello = new ArrayList<>();
    Set<String> owners = new TreeSet<>(positions.keySet());
    owners.addAll(highest.keySet());
    owners.remove(node.config.nodeName());
    for (String owner : owners) {
      hello.add(OwnerPosition.newBuilder().setOwner(owner).setSerial(positions.getOrDefault(owner, 0L))
          .setHighest(highest.getOrDefault(owner, 0L)).build());
    }
    return hello;
  }

  @Override
  public long heldPosition(String owner) {
    return node.applier.positions().getOrDefault(owner, 0L);
  }

  @Override
  public long lowestHeld(String peer, String owner) {
    return node.policy.lowestHeld(peer, owner);
  }

  @Override
  public Ack apply(String peer, ChangeBatch batch, Set<String> verifyOwners, RelayGaps gaps) {
    long started = System.nanoTime();
    Ack ack = node.applier.apply(peer, batch, verifyOwners, gaps);
    node.metrics.applied(batch.getChangesCount(), System.nanoTime() - started);
    if (batch.getPositionsCount() > 0) {
      for (PeerConnection connection : node.peers.others(peer)) {
        connection.positionsMayMove(); // what this node holds of relayed owners moved
      }
    }
    return ack;
  }

  @Override
  public String objectKey(Change change) {
    return node.applier.objectKey(change);
  }

  @Override
  public int endFullSync(String peer, SyncMarker end, Set<String> received, long repaired,
      List<String> repairedExamples) {
    int removed = node.applier.endFullSync(peer, end, received, repaired, repairedExamples);
    if (removed > 0 && !end.getOwner().equals(node.config.nodeName())) {
      // the peers this node relays the owner to may hold what the sweep removed here: they get
      // the owner again with a sweep, at once or when they reconnect
      // through the serial after the marker's: a peer away now may hold exactly the marker's serial
      // (a quiet owner's full synchronization ends where its position already was), and the swept
      // rows keep serials at or below it, so no catch-up from its position would find them. A peer
      // synchronized now may get one more full synchronization at its next connection, until the
      // owner commits again (WithdrawalIntegrationTest.aSweepAtTheGatewayReachesAPeerThatWasAwayFromIt)
      node.housekeeper.sweptRelayed(end.getOwner(), end.getSerial() + 1);
      for (PeerConnection other : node.peers.others(peer)) {
        if (!end.getOwner().equals(other.peerName())) {
          other.pushFullSync(end.getOwner(), false);
        }
      }
    }
    return removed;
  }

  @Override
  public void onUpdateRequest(String peer, UpdateRequest received) {
    node.decisions.execute(() -> {
      UpdateRequest request = authenticated(peer, received);
      if (request == null) {
        return;
      }
      String denial = node.policy.requestDenied(peer, request);
      if (denial != null) {
        node.forwarder.answer(peer, RequestOutcome.newBuilder().setRequestId(request.getRequestId())
            .setStatus(RequestStatus.REFUSED)
            .setReason(RejectReason.POLICY)
            .setMessage("node '%s' refused the request of '%s' for %s#%s: %s".formatted(nodeName(),
                request.getOrigin(), request.getEntity(), Values.shortText(request.getId()), denial))
            .build());
        return;
      }
      RequestOutcome hidden = hiddenFromBrowser(peer, request);
      if (hidden != null) {
        node.forwarder.answer(peer, hidden);
        return;
      }
      UpdateRequest routed = followObject(request);
      if (routed.getOwner().equals(nodeName())) {
        node.forwarder.answer(peer,
            node.requestExecutor.execute(peer, routed).toBuilder().setRequestId(routed.getRequestId()).build());
      } else {
        node.forwarder.relay(peer, routed);
      }
    });
  }

  /** Refused update requests (claimed origins, signatures): one WARN per peer and reason a minute. */
  private final dev.entanglement.hibernate.internal.core.LimitedLog requestsRefused =
      new dev.entanglement.hibernate.internal.core.LimitedLog(org.jboss.logging.Logger.getLogger(NodePeerHost.class));

  /**
   * The request with the peer it came from appended to its path, once its origin holds: the peer
   * itself when the path is empty, and (signed state, between nodes) the origin's signature.
   * Otherwise it is answered REFUSED (ORIGIN or SIGNATURE), counted and logged, and null returned.
   */
  private UpdateRequest authenticated(String peer, UpdateRequest request) {
    String problem = dev.entanglement.hibernate.internal.ownership.RequestOrigin.problem(nodeName(), peer, request);
    RejectReason reason = RejectReason.ORIGIN;
    PeerConnection connection = node.peers.get(peer);
    if (problem == null && node.signerKeys != null && (connection == null || !connection.browser())) {
      String unsigned = node.signerKeys.problem(request, peer);
      if (unsigned != null) {
        reason = RejectReason.SIGNATURE;
        problem = "node '%s' refused the request of '%s' from peer '%s': %s".formatted(nodeName(), request.getOrigin(),
            peer, unsigned);
      }
    }
    if (problem == null) {
      return dev.entanglement.hibernate.internal.ownership.RequestOrigin.received(peer, request);
    }
    String message = "%s (%s#%s)".formatted(problem, request.getEntity(), Values.shortText(request.getId()));
    node.forwarder.answer(peer, RequestOutcome.newBuilder().setRequestId(request.getRequestId())
        .setStatus(RequestStatus.REFUSED).setReason(reason).setMessage(message).build());
    if (connection != null) {
      connection.stats().refusedHere(reason);
    }
    node.metrics.rejected(peer, true, reason.name());
    requestsRefused.warn(peer + '|' + reason, "Refused an update request from peer '%s' (%s): %s".formatted(peer,
        reason, message));
    return null;
  }

  /**
   * A browser's request for an object this node holds under an owner the browser was never shown
   * (nor named itself) is answered as for an object that does not exist, naming no one the
   * browser did not name: routed on, the owner's answer would name the owner. Null otherwise.
   */
  private RequestOutcome hiddenFromBrowser(String peer, UpdateRequest request) {
    PeerConnection connection = node.peers.get(peer);
    EntangledType type = node.model.byName(request.getEntity());
    if (connection == null || !connection.browser() || type == null) {
      return null;
    }
    String owner;
    try {
      Object id = type.idCodec().decode(request.getId(), "id");
      owner = id == null ? null : node.ownership.remoteOwner(type.key(type.idText(id)));
    } catch (DecodeException e) {
      return null; // the executor answers it with the reason
    }
    if (owner == null || owner.equals(request.getOwner()) || connection.mayName(owner)) {
      return null;
    }
    // the id is the browser's own guess, but a tab's log need not repeat it: the request id names the request
    RequestOutcome.Builder outcome = RequestOutcome.newBuilder().setRequestId(request.getRequestId());
    if (request.getKind() == RequestKind.CREATE) {
      return outcome.setStatus(RequestStatus.CONFLICT).setMessage("node '%s' cannot create that %s for browser '%s': its "
          .formatted(nodeName(), request.getEntity(), peer) + "id is taken").build();
    }
    return outcome.setStatus(RequestStatus.NOT_FOUND).setMessage("node '%s' has no such %s of '%s' for browser '%s'"
        .formatted(nodeName(), request.getEntity(), request.getOwner(), peer)).build();
  }

  /**
   * A request addressed to this node for an object it handed over goes on to the node that
   * decides the object now.
   */
  private UpdateRequest followObject(UpdateRequest request) {
    if (!request.getOwner().equals(nodeName())) {
      return request;
    }
    EntangledType type = node.model.byName(request.getEntity());
    if (type == null) {
      return request;
    }
    try {
      Object id = type.idCodec().decode(request.getId(), "id");
      String now = id == null ? null : node.ownership.remoteOwner(type.key(type.idText(id)));
      return now == null ? request : request.toBuilder().setOwner(now).build();
    } catch (DecodeException e) {
      return request; // the executor answers it with the reason
    }
  }

  @Override
  public void onRequestOutcome(String peer, RequestOutcome outcome) {
    node.pool.execute(() -> node.forwarder.outcome(peer, outcome));
  }

  @Override
  public void onOwnerRemoved(String peer, OwnerRemoved removed) {
    String problem = speaksForProblem(SpeaksFor.Claim.REMOVAL, peer, removed.getOwner());
    if (problem != null) {
      refusedClaim(peer, SpeaksFor.Claim.REMOVAL, removed.getOwner(), problem);
      return;
    }
    node.ownerRemoval.received(peer, removed);
  }

  @Override
  public String speaksForProblem(SpeaksFor.Claim claim, String peer, String owner) {
    if (node.signerKeys == null || !dev.entanglement.hibernate.internal.core.NodeNames.valid(owner)) {
      return null; // without signed state every trusted peer speaks for every owner; bad names are refused elsewhere
    }
    PeerConnection connection = node.peers.get(peer);
    if (connection != null && connection.browser()) {
      return null; // a browser's messages are screened by BrowserRules
    }
    return SpeaksFor.problem(claim, nodeName(), peer, owner, node.peers.isConnected(owner),
        node.directory.routeTo(owner), node.signerKeys.of(owner) != null);
  }

  /** Unsigned claims about owners a peer does not speak for: one WARN per peer and kind a minute. */
  private final dev.entanglement.hibernate.internal.core.LimitedLog claimsRefused =
      new dev.entanglement.hibernate.internal.core.LimitedLog(org.jboss.logging.Logger.getLogger(NodePeerHost.class));

  @Override
  public void refusedClaim(String peer, SpeaksFor.Claim claim, String owner, String problem) {
    PeerConnection connection = node.peers.get(peer);
    if (connection != null) {
      connection.stats().refusedHere(RejectReason.NOT_OWNER);
    }
    node.metrics.rejected(peer, true, RejectReason.NOT_OWNER.name());
    claimsRefused.warn(peer + '|' + claim, "Refused %s of owner '%s' from peer '%s' (NOT_OWNER): %s".formatted(
        claim.shown(), owner, peer, problem));
  }

  /** Certificates from peers that are not trusted here: one WARN per peer and owner a minute. */
  private final dev.entanglement.hibernate.internal.core.LimitedLog certificatesRefused =
      new dev.entanglement.hibernate.internal.core.LimitedLog(org.jboss.logging.Logger.getLogger(NodePeerHost.class));

  @Override
  public void onRoutes(String peer, Routes routes) {
    node.directory.received(peer, routes);
  }

  @Override
  public void nameable(String peer, String owner) {
    node.directory.nameable(peer, owner);
  }

  @Override
  public boolean ownerShown(String peer, String owner) {
    return node.policy.ownerShown(peer, owner);
  }

  @Override
  public Set<String> acknowledgedOwners(String peer) {
    return node.ledger.acknowledgedOwners(peer);
  }

  @Override
  public void onTransition(String peer, TransitionUpdate update) {
    PeerConnection connection = node.peers.get(peer);
    if (node.signerKeys != null && (connection == null || !connection.browser())) {
      String problem = node.signerKeys.problem(update);
      if (problem != null) {
        // nothing to answer: dropped, counted and logged like a refused request
        if (connection != null) {
          connection.stats().refusedHere(RejectReason.SIGNATURE);
        }
        node.metrics.rejected(peer, true, RejectReason.SIGNATURE.name());
        requestsRefused.warn(peer + "|transition", ("Ignored a transition from peer '%s' in the name of '%s' for "
            + "%s#%s (SIGNATURE): %s").formatted(peer, update.getOrigin(), update.getEntity(),
            Values.shortText(update.getId()), problem));
        return;
      }
    }
    if (node.policy.transitionDenied(peer, update) == null) {
      node.transitions.received(peer, update);
    }
  }

  @Override
  public dev.entanglement.hibernate.internal.signing.NodeSigner signer() {
    return node.signer;
  }

  @Override
  public dev.entanglement.hibernate.internal.signing.SignerKeys signerKeys() {
    return node.signerKeys;
  }

  @Override
  public java.util.List<dev.entanglement.proto.v1.Change> handoverChain(dev.entanglement.proto.v1.Change change) {
    return node.handoverChains == null ? java.util.List.of()
        : node.handoverChains.of(node.applier.objectKey(change), change.getEpoch());
  }

  @Override
  public boolean hostsBrowser(String name) {
    PeerConnection connection = node.peers.get(name);
    return connection != null && connection.browser();
  }

  @Override
  public void certificates(String peer, java.util.List<dev.entanglement.proto.v1.OwnerCertificate> certificates) {
    if (node.signerKeys == null) {
      return;
    }
    for (dev.entanglement.proto.v1.OwnerCertificate certificate : certificates) {
      var offered = node.signerKeys.offer(certificate.getOwner(), certificate.getChainList());
      if (offered.problem() != null) {
        certificatesRefused.warn(peer + '|' + certificate.getOwner(), ("Node '%s' ignored a certificate peer '%s' "
            + "passed on: %s; changes of '%s' are refused until a trusted one arrives").formatted(node.config.nodeName(),
            peer, offered.problem(), certificate.getOwner()));
      }
    }
  }

  @Override
  public void rejected(String peer, boolean here, RejectReason reason) {
    node.metrics.rejected(peer, here, reason.name());
  }

  // ---- connections ---------------------------------------------------------------------------

  @Override
  public String register(PeerConnection connection) {
    return node.peers.register(connection);
  }

  @Override
  public void unregister(PeerConnection connection) {
    node.peers.unregister(connection);
  }
}
