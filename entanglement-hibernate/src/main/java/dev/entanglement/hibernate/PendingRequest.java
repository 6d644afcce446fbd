package dev.entanglement.hibernate;

import java.time.Instant;

/**
 * An update request of this node not settled yet ({@link Entanglement#pendingRequests()}).
 * Immutable snapshot.
 *
 * @param requestKey the request's globally unique key (stable across retries and hops)
 * @param entity the entity name
 * @param idText the object's id as text
 * @param owner the node the request is for
 * @param kind what is asked
 * @param created when the request was made (wall clock)
 * @param expires when it fails if still unsettled ({@code created + entanglement.request.lifetime})
 * @param attempts how many times it was sent
 * @param sent whether it was ever sent (so the owner may have applied it)
 * @param lastError why the last attempt did not settle it, or null
 */
public record PendingRequest(String requestKey, String entity, String idText, String owner, RequestEvent.Kind kind,
    Instant created, Instant expires, int attempts, boolean sent, String lastError) {}
