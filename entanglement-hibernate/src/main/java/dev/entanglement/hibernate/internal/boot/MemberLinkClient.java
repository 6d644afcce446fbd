package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.EntanglementException;
import dev.entanglement.hibernate.EphemeralObjects;
import dev.entanglement.hibernate.TransitionBrokenException;
import dev.entanglement.hibernate.TransitionEvent;
import dev.entanglement.hibernate.TransitionListener;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.NodeLease;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import dev.entanglement.hibernate.internal.transport.PeerAddress;
import dev.entanglement.hibernate.internal.transport.Transports;
import dev.entanglement.proto.v1.MemberCall;
import dev.entanglement.proto.v1.MemberEphemeralChange;
import dev.entanglement.proto.v1.MemberEvent;
import dev.entanglement.proto.v1.MemberFailure;
import dev.entanglement.proto.v1.MemberHello;
import dev.entanglement.proto.v1.MemberLinkGrpc;
import dev.entanglement.proto.v1.MemberReply;
import dev.entanglement.proto.v1.MemberTransitionEvent;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jboss.logging.Logger;

/**
 * A follower's side of the member link: one stream to the member holding the node's links,
 * found in {@code entanglement_lease}, for the calls that need the links in memory. Attaches on
 * the first such call and again, from the lease thread, while it has ephemeral objects to
 * keep or watch; a new holder gets this member's ephemeral objects again. Calls waiting when the
 * stream ends fail with a message saying their outcome may be unknown.
 *
 * <h2>Concurrency</h2>
 * The stream, its waiting calls and the per-type proxies are guarded by {@code this}; events
 * arrive on gRPC's threads and are handed to the proxies, which own their mirrors.
 */
final class MemberLinkClient {
  private static final Logger LOG = Logger.getLogger(MemberLinkClient.class);
  /** How long a call that must answer at once (a transition's start) waits. */
  static final Duration START_TIMEOUT = Duration.ofSeconds(10);

  private final NodeRuntime node;
  private final Map<Class<?>, FollowerEphemerals<?>> ephemerals = new ConcurrentHashMap<>();
  private ManagedChannel channel;
  private StreamObserver<MemberCall> stream;
  private NodeLease.Link link;
  private long nextCall;
  private final Map<Long, CompletableFuture<MemberReply>> waiting = new HashMap<>();
  private final java.util.Set<FollowerTransition<?>> transitions = new java.util.HashSet<>();
  private boolean closed;

  MemberLinkClient(NodeRuntime node) {
    this.node = node;
  }

  /** Sends a call and returns its reply, failed with the holder's exception when it failed there. */
  CompletableFuture<MemberReply> call(MemberCall.Builder call) {
    CompletableFuture<MemberReply> reply = new CompletableFuture<>();
    RuntimeException failed = null;
    synchronized (this) {
      try {
        StreamObserver<MemberCall> out = attached();
        long id = ++nextCall;
        waiting.put(id, reply);
        out.onNext(call.setCallId(id).build());
      } catch (RuntimeException e) {
        failed = e;
      }
    }
    if (failed != null) {
      reply.completeExceptionally(failed); // outside the lock: the callbacks are the application's
    }
    return reply;
  }

  /** A call whose answer the caller waits for (a transition's start). */
  MemberReply callAndWait(MemberCall.Builder call, String what) {
    try {
      return call(call).get(START_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException runtime ? runtime : new EntanglementException(e.getMessage(), e);
    } catch (TimeoutException e) {
      throw new EntanglementException("%s on node '%s' got no answer from the member holding the links (%s) within %d ms"
          .formatted(what, node.config.nodeName(), linkDescription(), START_TIMEOUT.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new EntanglementException(what + " was interrupted", e);
    }
  }

  synchronized void opened(FollowerTransition<?> transition) {
    transitions.add(transition);
  }

  synchronized void closed(FollowerTransition<?> transition) {
    transitions.remove(transition);
  }

  @SuppressWarnings("unchecked")
  <T> EphemeralObjects<T> ephemeral(Class<T> type, Duration ttl) {
    return (EphemeralObjects<T>) ephemerals.computeIfAbsent(type, t -> new FollowerEphemerals<>(this, type, ttl));
  }

  /** The proxies this follower handed out, to move to the local store when it takes the links over. */
  List<FollowerEphemerals<?>> ephemeralProxies() {
    return List.copyOf(ephemerals.values());
  }

  /**
   * From the lease thread: attaches (again, after a failover: to the new holder) while ephemeral
   * objects are kept or watched through the link, or transition listeners wait for events.
   */
  void maintain() {
    if (ephemerals.isEmpty() && node.listeners.transitionListeners().isEmpty()) {
      return;
    }
    synchronized (this) {
      if (stream != null || closed) {
        return;
      }
      try {
        attached();
      } catch (RuntimeException e) {
        LOG.debugf("Entanglement node '%s': the member link is not up yet: %s", node.config.nodeName(), e.getMessage());
      }
    }
  }

  /** This member takes the links over, or stops: the stream ends and waiting calls fail. */
  void close(String why) {
    Runnable failures;
    synchronized (this) {
      closed = true;
      failures = ended(why);
    }
    failures.run();
  }

  private StreamObserver<MemberCall> attached() {
    if (closed) {
      throw new EntanglementException("node '%s': this member no longer follows (it took the links over, or stops)"
          .formatted(node.config.nodeName()));
    }
    if (stream != null) {
      return stream;
    }
    try {
      link = node.lease.holderLink();
    } catch (SQLException e) {
      throw new EntanglementException("node '%s': could not read the member holding the links from entanglement_lease: %s"
          .formatted(node.config.nodeName(), e.getMessage()), e);
    }
    if (link == null) {
      throw new EntanglementException(("node '%s' has no member serving its member link right now (%s; the holder "
          + "publishes it once its links are open): retry in a moment").formatted(node.config.nodeName(),
          node.lease.holderDescription()));
    }
    channel = Transports.channel(PeerAddress.parse(link.address()), node.config.tls());
    StreamObserver<MemberCall> out = MemberLinkGrpc.newStub(channel).attach(new Events(link));
    out.onNext(MemberCall.newBuilder().setHello(MemberHello.newBuilder().setNode(node.config.nodeName())
        .setMemberId(node.lease.memberId()).setSecret(link.secret())).build());
    stream = out;
    for (FollowerEphemerals<?> proxy : ephemerals.values()) {
      proxy.attached(); // the holder is new or came back: watch again, put this member's objects again
    }
    return out;
  }

  /**
   * Under the lock: the stream is gone. Returns the failing of the waiting calls and open
   * transitions, to run once the lock is released (their callbacks are the application's).
   */
  private Runnable ended(String why) {
    if (stream != null) {
      try {
        stream.onCompleted();
      } catch (RuntimeException ignored) {
        // already failed
      }
    }
    stream = null;
    if (channel != null) {
      channel.shutdownNow();
      channel = null;
    }
    List<CompletableFuture<MemberReply>> failed = new ArrayList<>(waiting.values());
    waiting.clear();
    EntanglementException failure = new EntanglementException(("the link of node '%s' to the member holding its "
        + "links (%s) ended (%s): the call's outcome is unknown; retry it").formatted(node.config.nodeName(),
        linkDescription(), why));
    List<FollowerTransition<?>> broken = List.copyOf(transitions);
    transitions.clear();
    return () -> {
      failed.forEach(reply -> reply.completeExceptionally(failure));
      broken.forEach(transition -> transition.linkEnded("the link to the member holding the links ended (" + why + ")"));
      ephemerals.values().forEach(FollowerEphemerals::detached);
    };
  }

  private String linkDescription() {
    NodeLease.Link current = link;
    return current == null ? "not found yet" : "member %s at %s".formatted(current.memberId(), current.address());
  }

  /** The holder's answers and events on one stream. */
  private final class Events implements StreamObserver<MemberEvent> {
    private final NodeLease.Link of;

    Events(NodeLease.Link of) {
      this.of = of;
    }

    @Override
    public void onNext(MemberEvent event) {
      switch (event.getEventCase()) {
        case REPLY -> {
          CompletableFuture<MemberReply> reply;
          synchronized (MemberLinkClient.this) {
            reply = waiting.remove(event.getCallId());
          }
          if (reply != null) {
            MemberReply answer = event.getReply();
            if (answer.hasFailure()) {
              reply.completeExceptionally(exception(answer.getFailure()));
            } else {
              reply.complete(answer);
            }
          }
        }
        case EPHEMERAL -> {
          MemberEphemeralChange change = event.getEphemeral();
          for (FollowerEphemerals<?> proxy : ephemerals.values()) {
            if (proxy.typeName().equals(change.getType())) {
              proxy.received(change);
            }
          }
        }
        case TRANSITION -> transition(event.getTransition());
        default -> { } // an event of a newer holder
      }
    }

    @Override
    public void onError(Throwable t) {
      streamEnded(t.getMessage());
    }

    @Override
    public void onCompleted() {
      streamEnded("the holder closed it");
    }

    private void streamEnded(String why) {
      Runnable failures = () -> { };
      synchronized (MemberLinkClient.this) {
        if (link == of && stream != null) {
          failures = ended(why);
        }
      }
      failures.run();
    }
  }

  /** A transition event of the holder, to this member's transition listeners. */
  private void transition(MemberTransitionEvent event) {
    List<TransitionListener> listeners = node.listeners.transitionListeners();
    EntangledType type = node.model.byName(event.getEntity());
    if (listeners.isEmpty() || type == null) {
      return;
    }
    try {
      Object id = type.idCodec().decode(event.getId(), type.name() + " id");
      Map<String, Object> values = new TransitionHost(node).decode(type, id, event.getAttributesList());
      TransitionEvent delivered = new TransitionEvent(type.persister().getMappedClass(), id, event.getOrigin(),
          event.getTransitionId(), values);
      for (TransitionListener listener : listeners) {
        try {
          switch (event.getKind()) {
            case "PROVISIONAL" -> listener.provisional(delivered);
            case "ENDED" -> listener.ended(delivered);
            case "BROKEN" -> listener.broken(delivered);
            default -> { }
          }
        } catch (RuntimeException e) {
          LOG.warnf(e, "Entanglement node '%s': a transition listener failed", node.config.nodeName());
        }
      }
    } catch (DecodeException | RuntimeException e) {
      LOG.debugf("Entanglement node '%s': transition event of %s not delivered: %s", node.config.nodeName(),
          event.getEntity(), e.getMessage());
    }
  }

  /** The exception the holder's call failed with, as the same type where this member knows it. */
  static RuntimeException exception(MemberFailure failure) {
    String message = failure.getMessage();
    return switch (failure.getKind()) {
      case "TransitionBrokenException" -> new TransitionBrokenException(message);
      case "IllegalArgumentException" -> new IllegalArgumentException(message);
      case "IllegalStateException" -> new IllegalStateException(message);
      case "Refused", "NotFound", "Conflict", "OwnerUnreachable", "ConnectionLost", "DatabaseUnavailable",
          "OutcomeUnknown", "UpdateRequestException" -> MemberRequests.failure(new PendingRequestStore.Outcome(null,
          failure.getOwner(), failure.getKind(), failure.getReason().isEmpty() ? null : failure.getReason(), message));
      default -> new EntanglementException(message);
    };
  }
}
