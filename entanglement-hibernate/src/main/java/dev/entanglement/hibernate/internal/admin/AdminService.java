package dev.entanglement.hibernate.internal.admin;

import dev.entanglement.hibernate.PendingRequest;
import java.util.Set;
import java.util.TreeSet;
import dev.entanglement.hibernate.EntanglementException;
import dev.entanglement.hibernate.ResyncMode;
import dev.entanglement.hibernate.ResyncReport;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.NodeLease;
import dev.entanglement.proto.v1.AddPeerRequest;
import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.hibernate.AdoptionStatus;
import dev.entanglement.proto.v1.AdminResyncRequest;
import dev.entanglement.proto.v1.AdoptRequest;
import dev.entanglement.proto.v1.AdoptionInfo;
import dev.entanglement.proto.v1.AdoptionResponse;
import dev.entanglement.proto.v1.AdoptionStatusRequest;
import dev.entanglement.proto.v1.AdminResyncResponse;
import dev.entanglement.proto.v1.DescribeObjectRequest;
import dev.entanglement.proto.v1.ListMembersRequest;
import dev.entanglement.proto.v1.ListMembersResponse;
import dev.entanglement.proto.v1.ListOwnersRequest;
import dev.entanglement.proto.v1.ListOwnersResponse;
import dev.entanglement.proto.v1.ListPeersRequest;
import dev.entanglement.proto.v1.ListRequestsRequest;
import dev.entanglement.proto.v1.ListRequestsResponse;
import dev.entanglement.proto.v1.PendingRequestInfo;
import dev.entanglement.proto.v1.ListPeersResponse;
import dev.entanglement.proto.v1.MemberInfo;
import dev.entanglement.proto.v1.ObjectDescription;
import dev.entanglement.proto.v1.OwnerInfo;
import dev.entanglement.proto.v1.PeerActionResponse;
import dev.entanglement.proto.v1.PeerInfo;
import dev.entanglement.proto.v1.PeerRef;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * The admin calls, answered from the node's runtime. Bad arguments get {@code INVALID_ARGUMENT}
 * or {@code NOT_FOUND} with a message naming the value and what was expected; an unexpected
 * failure gets {@code INTERNAL} with a one-line message (the stack trace stays in this node's
 * log). Rates are measured between calls (at least one second apart) per peer.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: the runtime's accessors are; the rate samples are a concurrent map.
 */
public final class AdminService extends AdminGrpc.AdminImplBase {
  private static final Logger LOG = Logger.getLogger(AdminService.class);

  private record Sample(long nanos, long sent, long received, double sentRate, double receivedRate) {}

  private final NodeQueries runtime;
  private final Map<PeerConnection, Sample> samples = new ConcurrentHashMap<>();

  public AdminService(NodeQueries runtime) {
    this.runtime = runtime;
  }

  private <T> void answer(StreamObserver<T> observer, Supplier<T> work) {
    T result;
    try {
      result = work.get();
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    } catch (IllegalArgumentException e) {
      observer.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return;
    } catch (RuntimeException e) {
      LOG.errorf(e, "An admin call failed on node '%s'", runtime.nodeName());
      observer.onError(Status.INTERNAL.withDescription("node '%s' could not answer: %s"
          .formatted(runtime.nodeName(), e.getMessage())).asRuntimeException());
      return;
    }
    observer.onNext(result);
    observer.onCompleted();
  }

  private static StatusRuntimeException notFound(String message) {
    return Status.NOT_FOUND.withDescription(message).asRuntimeException();
  }

  private static String required(String value, String what) {
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException(what + " is missing");
    }
    return value.trim();
  }

  @Override
  public void listPeers(ListPeersRequest request, StreamObserver<ListPeersResponse> observer) {
    answer(observer, () -> {
      String self = runtime.nodeName();
      long last = runtime.lastSerial();
      var lease = runtime.lease();
      ListPeersResponse.Builder response = ListPeersResponse.newBuilder().setNode(self).setMember(lease.memberId())
          .setMemberHost(lease.host()).setMemberSince(String.valueOf(lease.since())).setLeaseToken(lease.token());
      for (PeerConnection c : runtime.allConnections()) {
        if (c.state() == PeerConnection.State.CLOSED) {
          samples.remove(c);
          continue;
        }
        String name = c.peerName();
        long acknowledged = name == null ? 0 : runtime.acknowledgedBy(name, self);
        Sample sample = rates(c);
        PeerInfo.Builder info = PeerInfo.newBuilder()
            .setName(name == null ? "" : name)
            .setAddress(c.address())
            .setDialed(c.dialer())
            .setState(c.state().name())
            .setSince(c.since().toString())
            .setProtocolVersion(PeerConnection.PROTOCOL_VERSION)
            .setLagSerials(Math.max(0, last - acknowledged))
            .setLagObjects(name == null ? 0 : runtime.countChangedSince(self, acknowledged))
            .setOutboxDepth(c.outboxDepth())
            .setBytesSentPerSecond(sample.sentRate)
            .setBytesReceivedPerSecond(sample.receivedRate)
            .setCoalesced(c.coalesced())
            .setRejectedByPeer(c.stats().changesRejectedByPeer())
            .setRejectedHere(c.stats().changesRejectedHere())
            .setChangesSent(c.stats().changesSent())
            .setChangesReceived(c.stats().changesReceived())
            .setChangesApplied(c.stats().changesAppliedHere())
            .setPaused(c.paused())
            .setPolicyDenials(name == null ? 0 : runtime.policyDenials(name));
        if (c.fingerprint() != null) {
          info.setFingerprint(c.fingerprint());
        }
        c.stats().rejectedByPeerByReason().forEach((reason, count) -> info.putRejectedByPeerByReason(reason.name(), count));
        c.stats().rejectedHereByReason().forEach((reason, count) -> info.putRejectedHereByReason(reason.name(), count));
        response.addPeers(info);
      }
      for (var waiting : runtime.waitingDialers()) {
        response.addPeers(PeerInfo.newBuilder().setAddress(waiting.target()).setDialed(true).setState("DIALING")
            .setSince(waiting.lastErrorAt().toString()).setProtocolVersion(PeerConnection.PROTOCOL_VERSION)
            .setLastError(waiting.lastError()).setNextAttempt(waiting.nextAttemptAt().toString())
            .setFailedAttempts(waiting.failures()));
      }
      return response.build();
    });
  }

  /** Bytes per second each way since the previous sample (or since the connection began). */
  private Sample rates(PeerConnection c) {
    long now = System.nanoTime();
    long sent = c.stats().bytesSent();
    long received = c.stats().bytesReceived();
    Sample previous = samples.get(c);
    if (previous != null && now - previous.nanos < TimeUnit.SECONDS.toNanos(1)) {
      return previous;
    }
    double seconds;
    long sentBefore;
    long receivedBefore;
    if (previous == null) {
      seconds = Math.max(1e-3, (System.currentTimeMillis() - c.since().toEpochMilli()) / 1000.0);
      sentBefore = 0;
      receivedBefore = 0;
    } else {
      seconds = (now - previous.nanos) / 1e9;
      sentBefore = previous.sent;
      receivedBefore = previous.received;
    }
    Sample sample = new Sample(now, sent, received, (sent - sentBefore) / seconds, (received - receivedBefore) / seconds);
    samples.put(c, sample);
    return sample;
  }

  @Override
  public void listObjects(dev.entanglement.proto.v1.ListObjectsRequest request,
      StreamObserver<dev.entanglement.proto.v1.ListObjectsResponse> observer) {
    answer(observer, () -> {
      String entity = request.getEntity().isEmpty() ? null : request.getEntity();
      if (entity != null && runtime.model().byName(entity) == null) {
        throw notFound(unknownEntity(entity));
      }
      int limit = request.getLimit() == 0 ? 100 : request.getLimit();
      if (limit > 1000) {
        throw new IllegalArgumentException("limit %d is too large; expected 1 to 1000".formatted(limit));
      }
      String owner = request.getOwner().isEmpty() ? null : request.getOwner();
      List<NodeQueries.ListedObject> page = runtime.listObjects(entity, owner,
          request.getAfter().isEmpty() ? null : request.getAfter(), limit + 1);
      var response = dev.entanglement.proto.v1.ListObjectsResponse.newBuilder().setNode(runtime.nodeName());
      for (NodeQueries.ListedObject listed : page.subList(0, Math.min(limit, page.size()))) {
        var row = listed.row();
        response.addObjects(dev.entanglement.proto.v1.ListedObject.newBuilder().setEntity(row.entity()).setId(row.id())
            .setOwner(row.owner()).setSerial(row.serial()).setDeleted(row.deleted()).setSummary(listed.summary()));
      }
      if (page.size() > limit) {
        var last = page.get(limit - 1).row();
        response.setNext(last.entity() + "#" + last.id());
      }
      return response.build();
    });
  }

  @Override
  public void describeObject(DescribeObjectRequest request, StreamObserver<ObjectDescription> observer) {
    answer(observer, () -> {
      String entity = required(request.getEntity(), "the entity name");
      String idText = required(request.getId(), "the object id");
      EntangledType type = runtime.model().byName(entity);
      if (type == null) {
        throw notFound(unknownEntity(entity));
      }
      Object id;
      try {
        id = type.idCodec().parseText(idText);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("'%s' is not an id of %s; expected a %s (ListObjects, the CLI's objects "
            .formatted(idText, entity, type.idCodec().javaType().getSimpleName()) + "command, lists ids)");
      }
      String canonical = type.idText(id);
      Bookkeeping.ObjectRow row = runtime.objectRow(type.name(), canonical);
      if (row == null) {
        throw notFound("node '%s' holds no %s with id %s".formatted(runtime.nodeName(), entity, canonical));
      }
      ObjectDescription.Builder description = ObjectDescription.newBuilder().setEntity(entity).setId(canonical)
          .setOwner(row.owner()).setSerial(row.serial()).setEpoch(row.epoch()).setDeleted(row.deleted())
          .setPendingRequests(runtime.pendingRequests(type.key(canonical)));
      if (row.handoverTo() != null) {
        description.setHandoverTo(row.handoverTo());
      }
      for (PeerConnection c : runtime.allConnections()) {
        String peer = c.peerName();
        if (peer == null || c.state() != PeerConnection.State.STREAMING || peer.equals(row.owner())
            || !runtime.mayHold(peer, type, id, row.owner(), row.deleted())) {
          continue; // a peer the policies keep the object from is not reported on it (nor told of it)
        }
        if (runtime.acknowledgedBy(peer, row.owner()) >= row.serial()) {
          description.addAcknowledgedBy(peer);
        } else {
          description.addNotYetAcknowledgedBy(peer);
        }
      }
      String transition = runtime.transitionOf(type.key(canonical));
      if (transition != null) {
        description.addTransitions(transition);
      }
      return description.build();
    });
  }

  private String unknownEntity(String entity) {
    return "node '%s' has no @Entangled entity named '%s'; it has %s".formatted(runtime.nodeName(), entity,
        runtime.model().types().stream().map(EntangledType::name).sorted().toList());
  }

  @Override
  public void resync(AdminResyncRequest request, StreamObserver<AdminResyncResponse> observer) {
    if (request.getFromPeer()) {
      resyncFromPeer(request, observer);
      return;
    }
    answer(observer, () -> {
      String peer = required(request.getPeer(), "the peer name");
      if (runtime.connection(peer).isEmpty()) {
        throw notFound("node '%s' has no open stream with a peer named '%s'; connected: %s"
            .formatted(runtime.nodeName(), peer, runtime.connectedPeers()));
      }
      String owner = request.getOwner().isBlank() ? null : request.getOwner().trim();
      String entity = request.getEntity().isBlank() ? null : request.getEntity().trim();
      if (owner != null) {
        if (owner.equals(peer)) {
          throw new IllegalArgumentException(("peer '%s' is the owner '%s' itself; a resync sends a peer the objects "
              + "of other owners").formatted(peer, owner));
        }
        Set<String> owners = new TreeSet<>(runtime.ownerCounts().keySet());
        owners.add(runtime.nodeName());
        if (!owners.contains(owner)) {
          throw notFound("node '%s' holds no objects of an owner named '%s'; its owners: %s"
              .formatted(runtime.nodeName(), owner, owners));
        }
      }
      if (entity != null && runtime.model().byName(entity) == null) {
        throw notFound(unknownEntity(entity));
      }
      return AdminResyncResponse.newBuilder().setMessage(runtime.resync(peer, owner, entity, request.getVerify())).build();
    });
  }

  /**
   * This node asks the peer for the objects the peer owns, and answers once they are applied
   * here, with what that did (the call's deadline bounds the wait).
   */
  private void resyncFromPeer(AdminResyncRequest request, StreamObserver<AdminResyncResponse> observer) {
    CompletableFuture<ResyncReport> report;
    try {
      String peer = required(request.getPeer(), "the peer name");
      if (!request.getOwner().isBlank() || !request.getEntity().isBlank()) {
        throw new IllegalArgumentException("a resync from the peer covers the objects peer '%s' owns, all of them; "
            .formatted(peer) + "leave out the owner and the entity");
      }
      PeerConnection connection = runtime.connection(peer).orElseThrow(() -> notFound(
          "node '%s' has no open stream with a peer named '%s'; connected: %s"
              .formatted(runtime.nodeName(), peer, runtime.connectedPeers())));
      report = connection.requestResync(request.getVerify() ? ResyncMode.VERIFY : ResyncMode.CLEAR);
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    } catch (IllegalArgumentException e) {
      observer.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    report.whenComplete((done, failure) -> {
      try {
        if (failure != null) {
          observer.onError(Status.UNAVAILABLE.withDescription("the resynchronization from peer '%s' did not complete: %s"
              .formatted(request.getPeer(), failure.getMessage())).asRuntimeException());
          return;
        }
        observer.onNext(AdminResyncResponse.newBuilder().setMessage(done.toString()).setReceived(done.received())
            .setRepaired(done.repaired()).setRemoved(done.removed()).build());
        observer.onCompleted();
      } catch (RuntimeException e) {
        LOG.debugf(e, "Could not answer an admin resync on node '%s' (the caller went away?)", runtime.nodeName());
      }
    });
  }

  @Override
  public void addPeer(AddPeerRequest request, StreamObserver<PeerActionResponse> observer) {
    answer(observer, () -> {
      String address = required(request.getAddress(), "the peer address");
      if (runtime.dialTargets().contains(address)) {
        throw Status.ALREADY_EXISTS.withDescription("node '%s' already dials %s; it dials %s"
            .formatted(runtime.nodeName(), address, runtime.dialTargets())).asRuntimeException();
      }
      try {
        runtime.connect(address);
      } catch (EntanglementException e) { // e.g. a TCP address without TLS or plaintext
        throw Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException();
      }
      return PeerActionResponse.newBuilder().setMessage("node '%s' dials %s".formatted(runtime.nodeName(), address)).build();
    });
  }

  @Override
  public void removePeer(PeerRef request, StreamObserver<PeerActionResponse> observer) {
    answer(observer, () -> {
      String peer = required(request.getPeer(), "the peer");
      boolean dialed = runtime.dialTargets().contains(peer) || runtime.connection(peer).map(PeerConnection::dialer).orElse(false);
      if (!runtime.removePeer(peer)) {
        throw notFound("node '%s' has no peer named or added as '%s'; connected: %s, dialing: %s"
            .formatted(runtime.nodeName(), peer, runtime.connectedPeers(), runtime.dialTargets()));
      }
      return PeerActionResponse.newBuilder().setMessage(dialed
          ? "node '%s' stopped dialing '%s' and closed its stream".formatted(runtime.nodeName(), peer)
          : ("node '%s' closed the stream '%s' had dialed in (it may dial again: remove '%s' from its peers to keep "
              + "them apart)").formatted(runtime.nodeName(), peer, runtime.nodeName())).build();
    });
  }

  @Override
  public void pausePeer(PeerRef request, StreamObserver<PeerActionResponse> observer) {
    answer(observer, () -> {
      PeerConnection c = streaming(request.getPeer());
      runtime.pausePeer(c.peerName());
      return PeerActionResponse.newBuilder().setMessage(("the flow with peer '%s' is paused both ways; changes coalesce "
          + "meanwhile").formatted(c.peerName())).build();
    });
  }

  @Override
  public void resumePeer(PeerRef request, StreamObserver<PeerActionResponse> observer) {
    answer(observer, () -> {
      PeerConnection c = streaming(request.getPeer());
      runtime.resumePeer(c.peerName());
      return PeerActionResponse.newBuilder().setMessage("the flow with peer '%s' resumed".formatted(c.peerName())).build();
    });
  }

  private PeerConnection streaming(String peer) {
    String name = required(peer, "the peer name");
    return runtime.connection(name).orElseThrow(() -> notFound("node '%s' has no open stream with a peer named '%s'; connected: %s"
        .formatted(runtime.nodeName(), name, runtime.connectedPeers())));
  }

  @Override
  public void listOwners(ListOwnersRequest request, StreamObserver<ListOwnersResponse> observer) {
    answer(observer, () -> {
      ListOwnersResponse.Builder response = ListOwnersResponse.newBuilder();
      Map<String, Long> held = runtime.heldPositionsByOwner();
      Map<String, List<String>> routes = runtime.routes();
      Map<String, long[]> counts = new TreeMap<>(runtime.ownerCounts());
      routes.keySet().forEach(owner -> counts.putIfAbsent(owner, new long[2])); // reachable, nothing held yet
      counts.forEach((owner, count) -> {
        List<String> path = routes.getOrDefault(owner, List.of());
        response.addOwners(OwnerInfo.newBuilder().setOwner(owner)
            .setHeldSerial(owner.equals(runtime.nodeName()) ? runtime.lastSerial() : held.getOrDefault(owner, 0L))
            .setObjects(count[0]).setTombstones(count[1])
            .setNextHop(path.isEmpty() ? "" : path.get(0)).addAllPath(path));
      });
      return response.build();
    });
  }

  /**
   * Every member of the node, from the member and lease tables: the holder first with its token.
   * Since when the holder holds the lease is known to the holder itself, which is the member that
   * answers (the admin API runs on the holder only).
   */
  @Override
  public void listMembers(ListMembersRequest request, StreamObserver<ListMembersResponse> observer) {
    answer(observer, () -> {
      NodeLease lease = runtime.lease();
      ListMembersResponse.Builder response = ListMembersResponse.newBuilder().setNode(runtime.nodeName())
          .setAnsweredBy(lease.memberId());
      for (NodeLease.Member member : runtime.members()) {
        MemberInfo.Builder info = MemberInfo.newBuilder().setMember(member.id()).setHost(member.host())
            .setHoldsLinks(member.holder()).setLeaseToken(member.token()).setStarted(member.startedAt().toString())
            .setHeartbeatAgeMs(Math.max(0, member.silentMillis()));
        if (member.holder() && member.id().equals(lease.memberId()) && lease.since() != null) {
          info.setHoldsSince(lease.since().toString());
        }
        response.addMembers(info);
      }
      return response.build();
    });
  }

  @Override
  public void adopt(AdoptRequest request, StreamObserver<AdoptionResponse> observer) {
    java.util.concurrent.CompletableFuture<List<AdoptionStatus>> run;
    try {
      List<String> entities = request.getEntityList().stream().map(String::trim).filter(e -> !e.isEmpty()).toList();
      for (String entity : entities) {
        if (runtime.model().byName(entity) == null) {
          throw notFound(unknownEntity(entity));
        }
      }
      run = runtime.adopt(entities);
    } catch (StatusRuntimeException e) {
      observer.onError(e);
      return;
    } catch (IllegalArgumentException e) {
      observer.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    if (!request.getWait()) {
      answer(observer, () -> adoptions("adoption under way; 'adopt --status' shows its progress", runtime.adoptions()));
      return;
    }
    run.whenComplete((done, failure) -> {
      try {
        if (failure != null) {
          observer.onError(Status.UNAVAILABLE.withDescription("the adoption on node '%s' did not complete: %s"
              .formatted(runtime.nodeName(), failure.getMessage())).asRuntimeException());
          return;
        }
        boolean failed = done.stream().anyMatch(s -> s.state() == AdoptionStatus.State.FAILED);
        observer.onNext(adoptions(failed ? "adoption stopped by an error; call adopt again to resume"
            : "adoption finished", done));
        observer.onCompleted();
      } catch (RuntimeException e) {
        LOG.debugf(e, "Could not answer an admin adoption on node '%s' (the caller went away?)", runtime.nodeName());
      }
    });
  }

  @Override
  public void adoptionStatus(AdoptionStatusRequest request, StreamObserver<AdoptionResponse> observer) {
    answer(observer, () -> {
      List<AdoptionStatus> all = runtime.adoptions();
      return adoptions(all.isEmpty() ? "no adoption has run on this node" : "", all);
    });
  }

  private AdoptionResponse adoptions(String message, List<AdoptionStatus> statuses) {
    AdoptionResponse.Builder response = AdoptionResponse.newBuilder().setNode(runtime.nodeName()).setMessage(message);
    for (AdoptionStatus status : statuses) {
      AdoptionInfo.Builder info = AdoptionInfo.newBuilder().setEntity(status.entity())
          .setState(status.state().name()).setScanned(status.scanned()).setAnnounced(status.announced())
          .setSkipped(status.skipped()).setRemoved(status.removed());
      if (status.afterId() != null) {
        info.setAfterId(status.afterId());
      }
      if (status.error() != null) {
        info.setError(status.error());
      }
      response.addAdoptions(info);
    }
    return response.build();
  }

  /** At most this many requests per answer: the table may hold up to the node's bound of pending requests. */
  private static final int MAX_LISTED = 10_000;

  @Override
  public void listRequests(ListRequestsRequest request, StreamObserver<ListRequestsResponse> observer) {
    answer(observer, () -> {
      int limit = request.getLimit() == 0 ? 100 : request.getLimit();
      if (limit > MAX_LISTED) {
        throw new IllegalArgumentException("limit %d is too large; expected at most %d".formatted(limit, MAX_LISTED));
      }
      String entity = request.getEntity();
      if (!entity.isEmpty() && runtime.model().byName(entity) == null) {
        throw notFound(unknownEntity(entity));
      }
      ListRequestsResponse.Builder response = ListRequestsResponse.newBuilder();
      long total = 0;
      for (PendingRequest pending : runtime.pendingRequests()) {
        if ((!request.getOwner().isEmpty() && !request.getOwner().equals(pending.owner()))
            || (!entity.isEmpty() && !entity.equals(pending.entity()))) {
          continue;
        }
        if (total++ < limit) {
          PendingRequestInfo.Builder info = PendingRequestInfo.newBuilder().setRequestKey(pending.requestKey())
              .setEntity(pending.entity()).setId(pending.idText()).setOwner(pending.owner())
              .setKind(pending.kind().name()).setCreated(pending.created().toString())
              .setExpires(pending.expires().toString()).setAttempts(pending.attempts()).setSent(pending.sent());
          if (pending.lastError() != null) {
            info.setLastError(pending.lastError());
          }
          response.addRequests(info);
        }
      }
      return response.setTotal(total).build();
    });
  }
}
