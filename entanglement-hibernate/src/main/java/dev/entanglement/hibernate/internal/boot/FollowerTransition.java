package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.Transition;
import dev.entanglement.hibernate.TransitionBrokenException;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.MemberCall;
import dev.entanglement.proto.v1.MemberTransitionEnd;
import dev.entanglement.proto.v1.MemberTransitionStart;
import dev.entanglement.proto.v1.MemberTransitionUpdate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;

/**
 * A transition started on a follower: the provisional copy lives here (the application's
 * changes run on it), the transition itself at the member holding the links, which floods it
 * to the peers and commits it through the owner. Updates send the values changed since the
 * start; the outcome completes with the object as this member's database holds it after the
 * owner's commit.
 *
 * <h2>Concurrency</h2>
 * The copy is guarded by {@code this}; the outcome is a thread-safe future.
 */
final class FollowerTransition<T> implements Transition<T> {
  private final MemberLinkClient link;
  private final NodeRuntime node;
  private final Class<T> javaType;
  private final EntangledType type;
  private final Object id;
  private final Object copy;
  private final Object[] base;
  private final long transitionId;
  private final CompletableFuture<T> outcome = new CompletableFuture<>();

  FollowerTransition(MemberLinkClient link, NodeRuntime node, Class<T> javaType, EntangledType type, Object id) {
    this.link = link;
    this.node = node;
    this.javaType = javaType;
    this.type = type;
    this.id = id;
    this.copy = OwnershipHosts.load(node, type, id);
    if (copy == null) {
      throw new IllegalArgumentException("node '%s' has no %s to start a transition on".formatted(
          node.config.nodeName(), type.key(type.idText(id))));
    }
    this.base = type.persister().getValues(copy).clone();
    this.transitionId = link.callAndWait(MemberCall.newBuilder().setTransitionStart(MemberTransitionStart.newBuilder()
        .setEntity(type.name()).setId(type.idCodec().encode(id))), "startTransition()").getValue();
    link.opened(this);
  }

  @Override
  public long id() {
    return transitionId;
  }

  @Override
  public synchronized Transition<T> update(Consumer<? super T> change) {
    if (outcome.isDone()) {
      throw new IllegalStateException("transition %s:%d of %s is over".formatted(node.config.nodeName(), transitionId,
          type.key(type.idText(id))));
    }
    change.accept(javaType.cast(copy));
    List<Attribute> attributes = new ArrayList<>();
    type.changedAttributes(base, type.persister().getValues(copy))
        .forEach((name, value) -> attributes.add(Attribute.newBuilder().setName(name).setValue(value).build()));
    link.call(MemberCall.newBuilder().setTransitionUpdate(MemberTransitionUpdate.newBuilder()
        .setTransitionId(transitionId).addAllAttributes(attributes)))
        .whenComplete((reply, failure) -> {
          if (failure != null) {
            end(failure);
          }
        });
    return this;
  }

  @Override
  public CompletableFuture<T> commit() {
    link.call(MemberCall.newBuilder().setTransitionEnd(MemberTransitionEnd.newBuilder().setTransitionId(transitionId)
        .setCommit(true))).whenComplete((reply, failure) -> {
          if (failure != null) {
            end(failure);
          } else {
            link.closed(this);
            outcome.complete(javaType.cast(OwnershipHosts.load(node, type, id)));
          }
        });
    return outcome;
  }

  @Override
  public void cancel() {
    if (outcome.isDone()) {
      return;
    }
    link.call(MemberCall.newBuilder().setTransitionEnd(MemberTransitionEnd.newBuilder().setTransitionId(transitionId)
        .setCommit(false)));
    end(new TransitionBrokenException("transition %s:%d of %s was cancelled by '%s'".formatted(node.config.nodeName(),
        transitionId, type.key(type.idText(id)), node.config.nodeName())));
  }

  @Override
  public CompletableFuture<T> outcome() {
    return outcome;
  }

  /** The link to the holder ended: the holder cancelled this transition (its follower is gone). */
  void linkEnded(String why) {
    end(new TransitionBrokenException("transition %s:%d of %s was broken: %s".formatted(node.config.nodeName(),
        transitionId, type.key(type.idText(id)), why)));
  }

  private void end(Throwable failure) {
    link.closed(this);
    Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    outcome.completeExceptionally(cause);
  }
}
