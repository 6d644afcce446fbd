package dev.entanglement.hibernate.internal.ownership;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.RequestStatus;
import dev.entanglement.proto.v1.UpdateRequest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Other nodes' update requests passing through this node: each goes one hop on towards its
 * owner with an id of this hop, and its outcome goes back to the peer it came from with that
 * peer's id. A relay never retries: the origin does (with the same request key), so a hop that
 * cannot go on answers {@code UNREACHABLE}, which is not final.
 *
 * <h2>Bounds</h2>
 * {@code hops} holds one entry per request in flight through this node; each leaves with its
 * answer or when either of its links ends (then the origin is told {@code UNREACHABLE}).
 *
 * <h2>Concurrency</h2>
 * {@code hops} is guarded by {@code lock}; sends happen outside it.
 */
final class RequestRelay {
  private record Hop(String fromPeer, long theirId, String toPeer) {}

  private final Forwarder.Host host;
  /** Shared with the forwarder: one id space per stream for this node's requests and relayed ones. */
  private final AtomicLong ids;
  private final Object lock = new Object();
  @GuardedBy("lock")
  private final Map<Long, Hop> hops = new HashMap<>();

  RequestRelay(Forwarder.Host host, AtomicLong ids) {
    this.host = host;
    this.ids = ids;
  }

  /** Forwards a request for another owner received from a peer, one hop on. */
  void relay(String fromPeer, UpdateRequest request) {
    String route = host.routeTo(request.getOwner());
    if (route == null) {
      answer(fromPeer, request.getRequestId(), RequestStatus.UNREACHABLE, null,
          "at node '%s': %s".formatted(host.nodeName(), host.whyNoRoute(request.getOwner())));
      return;
    }
    if (route.equals(fromPeer)) {
      // the two nodes' directories disagree while routes converge (a link just changed): not
      // final, the origin sends the request again with the same key
      answer(fromPeer, request.getRequestId(), RequestStatus.UNREACHABLE, null,
          ("an update request for owner '%s' came to node '%s' from the owner's own direction "
              + "(peer '%s') while routes converge; it is sent again").formatted(request.getOwner(), host.nodeName(), fromPeer));
      return;
    }
    long id = ids.incrementAndGet();
    synchronized (lock) {
      hops.put(id, new Hop(fromPeer, request.getRequestId(), route));
    }
    if (!host.send(route, Envelope.newBuilder().setUpdateRequest(request.toBuilder().setRequestId(id)).build())) {
      synchronized (lock) {
        hops.remove(id);
      }
      answer(fromPeer, request.getRequestId(), RequestStatus.UNREACHABLE, null,
          "node '%s' lost its route to owner '%s'".formatted(host.nodeName(), request.getOwner()));
    }
  }

  /** Answers a request received from a peer (owner side, or a hop that cannot go on). */
  void answer(String peer, long requestId, RequestStatus status, RejectReason reason, String message) {
    RequestOutcome.Builder outcome = RequestOutcome.newBuilder().setRequestId(requestId).setStatus(status);
    if (reason != null) {
      outcome.setReason(reason);
    }
    if (message != null) {
      outcome.setMessage(message);
    }
    host.send(peer, Envelope.newBuilder().setRequestOutcome(outcome).build());
  }

  /** Passes an outcome back towards the origin if it answers a relayed request; false if not one. */
  boolean outcome(RequestOutcome outcome) {
    Hop hop;
    synchronized (lock) {
      hop = hops.remove(outcome.getRequestId());
    }
    if (hop == null) {
      return false;
    }
    host.send(hop.fromPeer(), Envelope.newBuilder()
        .setRequestOutcome(outcome.toBuilder().setRequestId(hop.theirId())).build());
    return true;
  }

  /** A peer's connection ended: requests relayed towards it are answered UNREACHABLE (retryable). */
  void peerGone(String peer) {
    List<Hop> broken = new ArrayList<>();
    synchronized (lock) {
      for (Iterator<Hop> it = hops.values().iterator(); it.hasNext(); ) {
        Hop hop = it.next();
        if (hop.fromPeer().equals(peer) || hop.toPeer().equals(peer)) {
          it.remove();
          if (hop.toPeer().equals(peer)) {
            broken.add(hop);
          }
        }
      }
    }
    for (Hop hop : broken) {
      answer(hop.fromPeer(), hop.theirId(), RequestStatus.UNREACHABLE, null,
          "node '%s' lost its connection to peer '%s' on the way to the owner".formatted(host.nodeName(), peer));
    }
  }
}
