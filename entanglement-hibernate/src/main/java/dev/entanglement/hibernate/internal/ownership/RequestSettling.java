package dev.entanglement.hibernate.internal.ownership;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.entanglement.hibernate.RequestEvent;
import dev.entanglement.hibernate.UpdateRequestException;
import dev.entanglement.hibernate.internal.core.SerialExecutor;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.model.Values;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.proto.v1.Value;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jboss.logging.Logger;

/**
 * The end of this node's update requests: completes their futures and tells the listeners
 * ({@link RequestEvents}). A success completes once this node's own copy has reached the
 * owner's resulting state, or after {@link #COPY_WAIT} with what this node holds then (a
 * policy may hold the result back), so a read right after a completed future sees it.
 *
 * <h2>Bounds</h2>
 * {@code waitingForCopy} holds applied requests for at most {@link #COPY_WAIT} each.
 *
 * <h2>Concurrency</h2>
 * {@code waitingForCopy} is guarded by {@code lock}. Futures and listeners run on
 * {@code settling}, the forwarder's serial executor: settling reads the database (this node's
 * copy), and one database use at a time for all of the requests' work keeps the plugin's use of
 * the connection pool bounded however many requests complete.
 */
final class RequestSettling {
  private static final Logger LOG = Logger.getLogger(RequestSettling.class);
  /** How long a success waits for the owner's result to reach this node before completing anyway. */
  static final Duration COPY_WAIT = Duration.ofSeconds(10);

  private final Forwarder.Host host;
  private final Function<String, EntangledType> types;
  private final SerialExecutor settling;
  private final RequestEvents events;
  private final Object lock = new Object();
  /** Applied requests waiting for this node's copy, by object key. */
  @GuardedBy("lock")
  private final Map<String, List<OwnRequest>> waitingForCopy = new HashMap<>();

  RequestSettling(Forwarder.Host host, RequestEvents events, SerialExecutor settling) {
    this.host = host;
    this.types = host::type;
    this.settling = settling;
    this.events = events;
  }

  /** The owner applied it: complete once this node's copy has the result. */
  /** The owner applied it: settled once this node's copy has the result; then {@code settled} runs. */
  void applied(OwnRequest p, long serial, Runnable settled) {
    awaitCopy(p, serial, settled);
  }

  private void awaitCopy(OwnRequest p, long serial, Runnable settled) {
    synchronized (lock) {
      p.doneSerial = serial;
      p.afterSettle = settled;
      waitingForCopy.computeIfAbsent(p.objectKey, k -> new ArrayList<>()).add(p);
    }
    // settled with what this node holds then, if the result does not arrive (a policy may hold it)
    host.scheduler().schedule(() -> settling.execute(() -> settle(p)), COPY_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    settling.execute(() -> {
      long held;
      try {
        held = host.heldSerial(p.objectKey);
      } catch (RuntimeException e) {
        LOG.debugf("Could not read this node's copy of %s: %s", p.objectKey, e);
        return;
      }
      if (held >= serial) {
        settle(p);
      }
    });
  }

  /** This node applied changes (from peers): requests waiting for those states are done. */
  void changesApplied(List<Change> changes) {
    List<OwnRequest> done = new ArrayList<>();
    synchronized (lock) {
      if (waitingForCopy.isEmpty()) {
        return;
      }
      for (Change change : changes) {
        List<OwnRequest> waiting = waitingForCopy.get(change.getEntity() + '#' + keyId(change));
        if (waiting != null) {
          for (OwnRequest p : waiting) {
            if (p.doneSerial >= 0 && p.doneSerial <= change.getSerial()) {
              done.add(p);
            }
          }
        }
      }
    }
    if (!done.isEmpty()) {
      settling.execute(() -> done.forEach(this::settle));
    }
  }

  private static String keyId(Change change) {
    Value id = change.getId();
    return switch (id.getKindCase()) {
      case TEXT -> id.getText();
      case INTEGER -> Long.toString(id.getInteger());
      case UUID -> id.getUuid();
      case DECIMAL -> id.getDecimal();
      case TEMPORAL -> id.getTemporal();
      case ENUM_CONSTANT -> id.getEnumConstant();
      default -> Values.shortText(id);
    };
  }

  /** Runs on {@code settling}: completes an applied request once. */
  private void settle(OwnRequest p) {
    Runnable then;
    synchronized (lock) {
      List<OwnRequest> waiting = waitingForCopy.get(p.objectKey);
      if (waiting == null || !waiting.remove(p)) {
        return; // settled already
      }
      if (waiting.isEmpty()) {
        waitingForCopy.remove(p.objectKey);
      }
      then = p.afterSettle;
    }
    Object result = null;
    RuntimeException failure = null;
    if (!p.futures.isEmpty() && p.kind != RequestKind.REMOVE && p.request != null) {
      try {
        result = host.load(p.request.type(), p.request.id());
      } catch (RuntimeException e) {
        failure = e;
      }
    }
    for (CompletableFuture<Object> future : p.futures) {
      if (failure != null) {
        future.completeExceptionally(failure);
      } else {
        future.complete(result);
      }
    }
    RequestEvent event = event(p, RequestEvent.Outcome.APPLIED, null);
    events.settled(p.objectKey, event);
    toMember(p, event); // before the row goes: a restart in between settles it again
    if (then != null) {
      then.run();
    }
  }

  /**
   * The request ended without being applied; {@code then} (removing its row) runs after the
   * listeners heard it, so that a node closed in between sends it again after its restart instead
   * of losing the outcome.
   */
  void failed(OwnRequest p, RequestEvent.Outcome outcome, UpdateRequestException e, Runnable then) {
    settling.execute(() -> {
      p.futures.forEach(f -> f.completeExceptionally(e));
      RequestEvent event = event(p, outcome, e);
      events.settled(p.objectKey, event);
      toMember(p, event);
      then.run();
    });
  }

  /** A request another member stored: its outcome goes where that member reads it. */
  private void toMember(OwnRequest p, RequestEvent event) {
    if (p.member == null) {
      return;
    }
    List<String> keys = new ArrayList<>(1 + p.absorbed.size());
    keys.add(p.requestKey);
    keys.addAll(p.absorbed);
    host.memberSettled(p.member, keys, event);
  }

  private RequestEvent event(OwnRequest p, RequestEvent.Outcome outcome, UpdateRequestException failure) {
    String idText = p.objectKey.substring(p.objectKey.indexOf('#') + 1);
    Class<?> javaType = null;
    Object id = null;
    if (p.request != null) {
      javaType = p.request.type().persister().getMappedClass();
      id = p.request.id();
    } else {
      EntangledType type = types.apply(p.wire.getEntity());
      if (type != null) {
        try {
          id = type.idCodec().decode(p.wire.getId(), "id");
          javaType = type.persister().getMappedClass();
        } catch (DecodeException | RuntimeException e) {
          id = null;
        }
      }
    }
    return new RequestEvent(javaType, id, idText, p.owner, publicKind(p.kind), outcome, failure, p.requestKey);
  }

  static RequestEvent.Kind publicKind(RequestKind kind) {
    return switch (kind) {
      case CREATE -> RequestEvent.Kind.CREATE;
      case REMOVE -> RequestEvent.Kind.DELETE;
      default -> RequestEvent.Kind.UPDATE;
    };
  }

}
