package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.store.ConnectionBudget;
import dev.entanglement.hibernate.RefusalReason;
import dev.entanglement.hibernate.UpdateRequestException;
import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.ownership.ForwardRequest;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.hibernate.StatelessSession;
import org.jboss.logging.Logger;

/**
 * The futures of update requests this member stored while it followed: the member holding the
 * links sends them and writes each outcome to {@code entanglement_request_outcome}; this member
 * reads its outcomes every {@link #POLL_MILLIS} ms while futures wait, and completes them as the
 * holder's futures would complete (the result loaded from the database once applied, or the
 * same typed failure). A future whose outcome never comes (the holder stopped between settling
 * and writing it) fails as {@link UpdateRequestException.OutcomeUnknown} a minute after the
 * request's lifetime.
 *
 * <h2>Concurrency</h2>
 * {@code waiting} is guarded by {@code this}; the poll runs on a thread of its own.
 */
final class MemberRequests {
  private static final Logger LOG = Logger.getLogger(MemberRequests.class);
  static final long POLL_MILLIS = 20;

  private record Waiter(ForwardRequest request, Instant expires, CompletableFuture<Object> future) {}

  private final NodeRuntime node;
  private final PendingRequestStore store;
  private final Map<String, Waiter> waiting = new HashMap<>();
  private final LimitedLog failures = new LimitedLog(LOG);
  private final ScheduledExecutorService thread;

  MemberRequests(NodeRuntime node) {
    this.node = node;
    this.store = new PendingRequestStore(node.factory);
    this.thread = Executors.newSingleThreadScheduledExecutor(task -> {
      Thread t = new Thread(task, "entanglement-" + node.config.nodeName() + "-member-requests");
      t.setDaemon(true);
      return t;
    });
    thread.scheduleWithFixedDelay(this::poll, POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** A future for a request stored with this member's id; completes with the holder's outcome. */
  synchronized CompletableFuture<Object> await(ForwardRequest request, PendingRequestStore.Row row) {
    CompletableFuture<Object> future = new CompletableFuture<>();
    waiting.put(row.requestKey(), new Waiter(request, row.expires(), future));
    return future;
  }

  void stop() {
    thread.shutdownNow();
    synchronized (this) {
      waiting.values().forEach(w -> w.future().completeExceptionally(new UpdateRequestException.OutcomeUnknown(
          w.request().owner(), "this application instance stopped before the member holding node '%s''s links "
              .formatted(node.config.nodeName()) + "reported the request's outcome; it is still sent")));
      waiting.clear();
    }
  }

  private void poll() {
    synchronized (this) {
      if (waiting.isEmpty()) {
        return;
      }
    }
    try {
      for (PendingRequestStore.Outcome outcome : store.takeOutcomes(node.lease.memberId())) {
        Waiter waiter;
        synchronized (this) {
          waiter = waiting.remove(outcome.requestKey());
        }
        if (waiter != null) {
          complete(waiter, outcome);
        }
      }
      expire(Instant.now());
    } catch (RuntimeException e) {
      failures.warn("poll", "Entanglement node '%s' could not read the outcomes of this member's update requests "
          .formatted(node.config.nodeName()) + "(tried again in " + POLL_MILLIS + " ms): " + e.getMessage());
    }
  }

  private void complete(Waiter waiter, PendingRequestStore.Outcome outcome) {
    if (outcome.failure() == null) {
      Object result = null;
      if (waiter.request().kind() != RequestKind.REMOVE) {
        try (var permit = ConnectionBudget.of(node.factory).enter(); StatelessSession session = node.factory.openStatelessSession()) {
          result = session.get(waiter.request().type().persister().getMappedClass(), waiter.request().id());
        } catch (RuntimeException e) {
          waiter.future().completeExceptionally(e);
          return;
        }
      }
      waiter.future().complete(result);
      return;
    }
    waiter.future().completeExceptionally(failure(outcome));
  }

  static UpdateRequestException failure(PendingRequestStore.Outcome outcome) {
    String owner = outcome.owner();
    String message = outcome.message();
    return switch (outcome.failure()) {
      case "Refused" -> new UpdateRequestException.Refused(owner, reason(outcome.reason()), message);
      case "NotFound" -> new UpdateRequestException.NotFound(owner, message);
      case "Conflict" -> new UpdateRequestException.Conflict(owner, message);
      case "OwnerUnreachable" -> new UpdateRequestException.OwnerUnreachable(owner, message);
      case "ConnectionLost" -> new UpdateRequestException.ConnectionLost(owner, message);
      case "DatabaseUnavailable" -> new UpdateRequestException.DatabaseUnavailable(owner, message, null);
      case "OutcomeUnknown" -> new UpdateRequestException.OutcomeUnknown(owner, message);
      default -> new UpdateRequestException(owner, message);
    };
  }

  private static RefusalReason reason(String name) {
    try {
      return name == null ? RefusalReason.INTERNAL : RefusalReason.valueOf(name);
    } catch (IllegalArgumentException e) {
      return RefusalReason.INTERNAL; // a holder of a newer version named a reason this one does not know
    }
  }

  /** The outcome of a failed request, as the holder writes it for the member that stored it. */
  static PendingRequestStore.Outcome outcomeOf(String requestKey, String owner, UpdateRequestException failure) {
    if (failure == null) {
      return new PendingRequestStore.Outcome(requestKey, owner, null, null, null);
    }
    String reason = failure instanceof UpdateRequestException.Refused refused && refused.reason() != null
        ? refused.reason().name() : null;
    return new PendingRequestStore.Outcome(requestKey, owner, failure.getClass().getSimpleName(), reason,
        failure.getMessage());
  }

  private void expire(Instant now) {
    Duration grace = Duration.ofMinutes(1);
    synchronized (this) {
      waiting.entrySet().removeIf(entry -> {
        Waiter waiter = entry.getValue();
        if (now.isAfter(waiter.expires().plus(grace))) {
          waiter.future().completeExceptionally(new UpdateRequestException.OutcomeUnknown(waiter.request().owner(),
              "no outcome of the update request reached this member within its lifetime; the owner may have applied it"));
          return true;
        }
        return false;
      });
    }
  }
}
