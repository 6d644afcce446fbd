package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.EphemeralObjects;
import dev.entanglement.hibernate.Transition;
import dev.entanglement.hibernate.TransitionEvent;
import dev.entanglement.hibernate.TransitionListener;
import dev.entanglement.hibernate.UpdateRequestException;
import dev.entanglement.hibernate.internal.ephemeral.EphemeralRecords;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.MemberCall;
import dev.entanglement.proto.v1.MemberEphemeralChange;
import dev.entanglement.proto.v1.MemberEvent;
import dev.entanglement.proto.v1.MemberFailure;
import dev.entanglement.proto.v1.MemberLinkGrpc;
import dev.entanglement.proto.v1.MemberReply;
import dev.entanglement.proto.v1.MemberTransitionEvent;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import org.jboss.logging.Logger;

/**
 * The holder's side of the member link: runs the calls of followers (other application
 * instances of this node) that need the node's links in memory (transfers, transitions,
 * ephemeral objects) and sends them the events they watch. Ephemeral objects a follower put
 * are removed, and its open transitions cancelled, when its stream ends.
 *
 * <h2>Concurrency</h2>
 * One {@link Attached} per stream owns that stream's state under its own lock; gRPC delivers a
 * stream's calls one at a time. Events come from the rooms' threads and are written under the
 * same lock. Outbound bound: a follower that reads no events while
 * {@value #MAX_UNREAD_EVENTS} are written is disconnected (it attaches again and receives a fresh
 * snapshot of what it watches).
 */
final class MemberLinkService extends MemberLinkGrpc.MemberLinkImplBase {
  private static final Logger LOG = Logger.getLogger(MemberLinkService.class);
  static final int MAX_UNREAD_EVENTS = 10_000;

  private final NodeRuntime node;
  private final String secret;

  MemberLinkService(NodeRuntime node, String secret) {
    this.node = node;
    this.secret = secret;
  }

  @Override
  public StreamObserver<MemberCall> attach(StreamObserver<MemberEvent> responses) {
    return new Attached((ServerCallStreamObserver<MemberEvent>) responses);
  }

  /** One follower's stream. */
  private final class Attached implements StreamObserver<MemberCall> {
    private final ServerCallStreamObserver<MemberEvent> out;
    private String member;
    private boolean ended;
    private int unread;
    private final Map<Long, Open> transitions = new HashMap<>();
    /** The ephemeral objects this follower put, with the view they were put through. */
    private final Map<Map.Entry<Class<?>, String>, EphemeralObjects<?>> puts = new LinkedHashMap<>();
    private final List<Runnable> unwatch = new ArrayList<>();

    Attached(ServerCallStreamObserver<MemberEvent> out) {
      this.out = out;
      out.setOnReadyHandler(() -> {
        synchronized (this) {
          unread = 0;
        }
      });
    }

    @Override
    public void onNext(MemberCall call) {
      if (member == null) {
        if (!call.hasHello() || !call.getHello().getSecret().equals(secret)
            || !call.getHello().getNode().equals(node.config.nodeName())) {
          fail(Status.PERMISSION_DENIED.withDescription(("member link of node '%s': the first message must be a "
              + "MemberHello of this node with the secret of the current lease (entanglement_lease.link_secret); "
              + "the lease may have changed hands: read it again").formatted(node.config.nodeName())));
          return;
        }
        member = call.getHello().getMemberId();
        TransitionListener forward = transitionForwarder();
        node.transitions.addListener(forward);
        synchronized (this) {
          unwatch.add(() -> node.transitions.removeListener(forward));
        }
        LOG.debugf("Entanglement node '%s': member %s attached to the member link", node.config.nodeName(), member);
        return;
      }
      long id = call.getCallId();
      try {
        switch (call.getCallCase()) {
          case TRANSFER -> {
            EntangledType type = type(call.getTransfer().getEntity());
            node.api.transfer(type.persister().getMappedClass(), id(type, call.getTransfer().getId()),
                call.getTransfer().getNewOwner()).whenComplete((result, failure) -> reply(id, 0, failure));
          }
          case TRANSITION_START -> {
            EntangledType type = type(call.getTransitionStart().getEntity());
            Object objectId = id(type, call.getTransitionStart().getId());
            @SuppressWarnings("unchecked")
            Transition<Object> transition = (Transition<Object>) node.api.startTransition(
                type.persister().getMappedClass(), objectId);
            synchronized (this) {
              transitions.put(transition.id(), new Open(transition, type, objectId));
            }
            reply(id, transition.id(), null);
          }
          case TRANSITION_UPDATE -> {
            Open open = transition(call.getTransitionUpdate().getTransitionId());
            Map<String, Object> values = new TransitionHost(node).decode(open.type(), open.id(),
                call.getTransitionUpdate().getAttributesList());
            open.transition().update(entity -> set(open.type(), entity, values));
            reply(id, 0, null);
          }
          case TRANSITION_END -> {
            long transitionId = call.getTransitionEnd().getTransitionId();
            Transition<Object> transition = transition(transitionId).transition();
            if (call.getTransitionEnd().getCommit()) {
              transition.commit().whenComplete((result, failure) -> {
                forget(transitionId);
                reply(id, 0, failure);
              });
            } else {
              transition.cancel();
              forget(transitionId);
              reply(id, 0, null);
            }
          }
          case EPHEMERAL_PUT -> {
            var put = call.getEphemeralPut();
            Class<?> recordType = recordType(put.getType());
            EphemeralObjects<Object> objects = ephemeral(recordType, put.getTtlMs());
            objects.put(put.getId(), EphemeralRecords.decode(recordType, put.getAttributesList()));
            synchronized (this) {
              puts.put(Map.entry(recordType, put.getId()), objects);
            }
            reply(id, 0, null);
          }
          case EPHEMERAL_REMOVE -> {
            var remove = call.getEphemeralRemove();
            Class<?> recordType = recordType(remove.getType());
            boolean removed = ephemeral(recordType, remove.getTtlMs()).remove(remove.getId());
            synchronized (this) {
              puts.remove(Map.entry(recordType, remove.getId()));
            }
            reply(id, removed ? 1 : 0, null);
          }
          case EPHEMERAL_WATCH -> {
            Class<?> recordType = recordType(call.getEphemeralWatch().getType());
            watch(recordType.getName(), ephemeral(recordType, call.getEphemeralWatch().getTtlMs()));
            reply(id, 0, null);
          }
          default -> reply(id, 0, new IllegalArgumentException("member link of node '%s': unknown call %s (a member "
              + "of a newer version?)".formatted(node.config.nodeName(), call.getCallCase())));
        }
      } catch (DecodeException | RuntimeException | ClassNotFoundException e) {
        reply(id, 0, e);
      }
    }

    private void watch(String typeName, EphemeralObjects<Object> objects) {
      EphemeralObjects.Listener<Object> listener = new EphemeralObjects.Listener<>() {
        @Override
        public void updated(String id, Object value, String owner) {
          send(MemberEvent.newBuilder().setEphemeral(MemberEphemeralChange.newBuilder().setType(typeName).setId(id)
              .setOwner(owner).addAllAttributes(EphemeralRecords.encode(value))).build());
        }

        @Override
        public void removed(String id, String owner) {
          send(MemberEvent.newBuilder().setEphemeral(MemberEphemeralChange.newBuilder().setType(typeName).setId(id)
              .setOwner(owner == null ? "" : owner).setRemoved(true)).build());
        }
      };
      objects.subscribe(listener); // before the snapshot: a change in between arrives twice, never not at all
      synchronized (this) {
        unwatch.add(() -> objects.unsubscribe(listener));
      }
      objects.all().forEach((id, value) -> listener.updated(id, value, objects.ownerOf(id).orElse("")));
    }

    private TransitionListener transitionForwarder() {
      return new TransitionListener() {
        @Override
        public void provisional(TransitionEvent event) {
          forward("PROVISIONAL", event, "");
        }

        @Override
        public void ended(TransitionEvent event) {
          forward("ENDED", event, "");
        }

        @Override
        public void broken(TransitionEvent event) {
          forward("BROKEN", event, "");
        }
      };
    }

    private void forward(String kind, TransitionEvent event, String detail) {
      EntangledType type = node.model.byEntityName(event.entityType().getName());
      if (type == null) {
        return;
      }
      send(MemberEvent.newBuilder().setTransition(MemberTransitionEvent.newBuilder().setKind(kind)
          .setEntity(type.name()).setId(type.idCodec().encode(event.id())).setOrigin(event.origin())
          .setTransitionId(event.transitionId()).addAllAttributes(attributes(type, event.values())).setDetail(detail))
          .build());
    }

    private synchronized Open transition(long transitionId) {
      Open transition = transitions.get(transitionId);
      if (transition == null) {
        throw new IllegalStateException("transition %d of node '%s' is over, or was not started through this "
            .formatted(transitionId, node.config.nodeName()) + "member link");
      }
      return transition;
    }

    private synchronized void forget(long transitionId) {
      transitions.remove(transitionId);
    }

    private void reply(long callId, long value, Throwable failure) {
      MemberReply.Builder reply = MemberReply.newBuilder().setValue(value);
      if (failure != null) {
        reply.setFailure(failureOf(failure));
      }
      send(MemberEvent.newBuilder().setCallId(callId).setReply(reply).build());
    }

    private synchronized void send(MemberEvent event) {
      if (ended) {
        return;
      }
      if (!out.isReady() && ++unread > MAX_UNREAD_EVENTS) {
        fail(Status.RESOURCE_EXHAUSTED.withDescription(("member %s read none of the last %d events of node '%s''s "
            + "member link; it attaches again").formatted(member, MAX_UNREAD_EVENTS, node.config.nodeName())));
        return;
      }
      out.onNext(event);
    }

    private synchronized void fail(Status status) {
      if (!ended) {
        out.onError(status.asRuntimeException());
      }
      end();
    }

    @Override
    public void onError(Throwable t) {
      end();
    }

    @Override
    public void onCompleted() {
      synchronized (this) {
        if (!ended) {
          out.onCompleted();
        }
      }
      end();
    }

    /** The follower went away: its transitions are cancelled, its ephemeral objects removed. */
    private void end() {
      List<Open> open;
      Map<Map.Entry<Class<?>, String>, EphemeralObjects<?>> owned;
      List<Runnable> watches;
      synchronized (this) {
        if (ended && transitions.isEmpty() && puts.isEmpty() && unwatch.isEmpty()) {
          return;
        }
        ended = true;
        open = List.copyOf(transitions.values());
        owned = Map.copyOf(puts);
        watches = List.copyOf(unwatch);
        transitions.clear();
        puts.clear();
        unwatch.clear();
      }
      watches.forEach(Runnable::run);
      open.forEach(transition -> transition.transition().cancel());
      owned.forEach((put, objects) -> {
        try {
          objects.remove(put.getValue());
        } catch (RuntimeException e) {
          LOG.debugf("could not remove ephemeral %s '%s' of member %s: %s", put.getKey().getName(), put.getValue(),
              member, e.getMessage());
        }
      });
    }
  }

  private EntangledType type(String entity) {
    EntangledType type = node.model.byName(entity);
    if (type == null) {
      throw new IllegalArgumentException("the member holding node '%s''s links does not map entity '%s' (a member "
          .formatted(node.config.nodeName(), entity) + "of a newer version during a rolling upgrade?)");
    }
    return type;
  }

  /** A transition a follower started through the link. */
  private record Open(Transition<Object> transition, EntangledType type, Object id) {}

  private static Object id(EntangledType type, dev.entanglement.proto.v1.Value id) throws DecodeException {
    return type.idCodec().decode(id, type.name() + " id");
  }

  private Class<?> recordType(String name) throws ClassNotFoundException {
    ClassLoader loader = node.model.types().stream().findFirst()
        .map(type -> type.persister().getMappedClass().getClassLoader())
        .orElse(Thread.currentThread().getContextClassLoader());
    return Class.forName(name, false, loader);
  }

  @SuppressWarnings("unchecked")
  private EphemeralObjects<Object> ephemeral(Class<?> type, long ttlMillis) {
    return (EphemeralObjects<Object>) node.ephemerals.register(type, ttlMillis > 0 ? Duration.ofMillis(ttlMillis) : null);
  }

  private static void set(EntangledType type, Object entity, Map<String, Object> values) {
    String[] names = type.persister().getPropertyNames();
    for (int i = 0; i < names.length; i++) {
      if (values.containsKey(names[i])) {
        type.persister().setValue(entity, i, values.get(names[i]));
      }
    }
  }

  /** The named values as attributes (every property encoded, only the named ones kept). */
  static List<Attribute> attributes(EntangledType type, Map<String, Object> values) {
    String[] names = type.persister().getPropertyNames();
    Object[] state = new Object[names.length];
    for (int i = 0; i < names.length; i++) {
      state[i] = values.get(names[i]);
    }
    List<Attribute> all = new ArrayList<>();
    type.encode(state, all);
    return all.stream().filter(attribute -> values.containsKey(attribute.getName())).toList();
  }

  static MemberFailure failureOf(Throwable failure) {
    Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    MemberFailure.Builder built = MemberFailure.newBuilder().setKind(cause.getClass().getSimpleName())
        .setMessage(String.valueOf(cause.getMessage()));
    if (cause instanceof UpdateRequestException request) {
      built.setOwner(request.owner() == null ? "" : request.owner());
      if (request instanceof UpdateRequestException.Refused refused && refused.reason() != null) {
        built.setReason(refused.reason().name());
      }
    }
    return built.build();
  }
}
