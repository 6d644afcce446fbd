package dev.entanglement.hibernate.internal.ownership;

import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.proto.v1.UpdateRequest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One update request of this node until it settles: what it asks, its futures, and where it
 * stands (attempts, in flight, backoff).
 *
 * <h2>Concurrency</h2>
 * The mutable fields belong to the {@link Forwarder}'s lock while the request is queued; once
 * the forwarder removed it (settled or expired, under that lock) only {@link RequestSettling}
 * reads it, on its serial executor.
 */
final class OwnRequest {
  final String requestKey;
  final String objectKey;
  final String owner;
  final RequestKind kind;
  final Instant created;
  final Instant expires;
  final long seq;
  /** The wire form without its per-hop id; merged requests change it until it is first sent. */
  UpdateRequest wire;
  /** The captured request, for loading the result; null for requests reloaded at boot. */
  ForwardRequest request;
  /** Keys of requests merged into this one: their rows go once this one is sent or settles. */
  final List<String> absorbed = new ArrayList<>(0);
  final List<CompletableFuture<Object>> futures = new ArrayList<>(1);
  int attempts;
  boolean sent;
  String lastError;
  String via;
  /** The per-hop id of the attempt in flight, or -1. */
  long wireId = -1;
  long resendAt;
  long notBefore;
  long backoffNanos;
  long doneSerial = -1;
  /** The member (not holding the links) that stored it and waits for its outcome, or null. */
  final String member;
  /** Runs once an applied request settled (removes its row); set and read under the settling lock. */
  Runnable afterSettle;

  OwnRequest(PendingRequestStore.Row row, UpdateRequest wire, long seq) {
    this.requestKey = row.requestKey();
    this.objectKey = row.entity() + '#' + row.idText();
    this.owner = row.owner();
    this.kind = wire.getKind();
    this.created = row.created();
    this.expires = row.expires();
    this.wire = wire;
    this.attempts = row.attempts();
    this.sent = row.sent();
    this.lastError = row.lastError();
    this.seq = seq;
    this.member = row.member();
  }
}
