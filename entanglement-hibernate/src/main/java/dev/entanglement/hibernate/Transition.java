package dev.entanglement.hibernate;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A transition this node started on an object: provisional state (an object being dragged) that
 * every node receives fast and can show through a {@link TransitionListener}, and that no node
 * writes to its database. Started with {@link Entanglement#startTransition}.
 *
 * <p>It ends when the object's owner commits the transition's values ({@link #commit} asks it
 * to, or the owner's application commits them itself), and breaks when the owner commits
 * anything else, when another transition of the object starts, or on {@link #cancel}: then
 * {@link #outcome} fails with {@link TransitionBrokenException} and every node drops the
 * provisional state.
 *
 * <p>Thread-safe.
 *
 * @param <T> the entity type
 */
public interface Transition<T> {
  /** The transition's id, unique at this node. */
  long id();

  /**
   * Changes the provisional state: the change is applied to this node's provisional copy of the
   * object and the attributes that differ from the committed state are sent to every node.
   *
   * @throws IllegalStateException if the transition is over
   */
  Transition<T> update(Consumer<? super T> change);

  /**
   * Commits the provisional state: in a local transaction if this node owns the object, else as
   * an update request to the owner. Returns {@link #outcome()}.
   */
  CompletableFuture<T> commit();

  /** Abandons the transition: every node drops its provisional state. */
  void cancel();

  /**
   * Completes with this node's copy of the object when the owner committed the transition's
   * values; fails with {@link TransitionBrokenException} when it broke, or with the
   * {@link UpdateRequestException} of a commit the owner refused.
   */
  CompletableFuture<T> outcome();
}
