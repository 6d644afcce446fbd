package dev.entanglement.hibernate.internal.ownership;

import dev.entanglement.proto.v1.UpdateRequest;

/**
 * Whether a received update request's origin is a fact: a pure function of the request and the
 * authenticated peer it came from. A request with an empty path ({@code via}) comes from its
 * origin itself, so the origin must be that peer; a relayed one carries the path the nodes before
 * recorded, which starts with the origin. The receiver then appends the peer
 * ({@link #received}), so the owner's policies see the whole authenticated path. Stateless.
 */
public final class RequestOrigin {
  /** Most names in a path (as the owner directory's paths). */
  public static final int MAX_PATH = 64;

  private RequestOrigin() {}

  /** Why the request's claimed origin does not hold, or null. */
  public static String problem(String self, String peer, UpdateRequest request) {
    String origin = request.getOrigin();
    if (request.getViaCount() == 0) {
      if (!origin.equals(peer)) {
        return ("node '%s' refused a request from peer '%s' claiming origin '%s': a request that names no path (via) "
            + "must come from its origin, and a relay records where it got one").formatted(self, peer, origin);
      }
      return null;
    }
    if (!request.getVia(0).equals(origin)) {
      return "node '%s' refused a request from peer '%s' claiming origin '%s': its path %s does not start with it"
          .formatted(self, peer, origin, request.getViaList());
    }
    if (request.getViaCount() >= MAX_PATH) {
      return "node '%s' refused a request from peer '%s': its path has %d names, at most %d are kept".formatted(self,
          peer, request.getViaCount(), MAX_PATH - 1);
    }
    return null;
  }

  /** The request as this node passes it on or decides it: the peer it came from appended to its path. */
  public static UpdateRequest received(String peer, UpdateRequest request) {
    return request.toBuilder().addVia(peer).build();
  }
}
