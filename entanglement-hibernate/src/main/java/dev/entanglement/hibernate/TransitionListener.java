package dev.entanglement.hibernate;

/**
 * Receives the transitions a node sees: its own and those flooded by other nodes. Callbacks run
 * one at a time, in order, on a plugin thread; they must not block for long. An exception thrown
 * by a callback is logged and does not affect the transition.
 */
public interface TransitionListener {
  /** A transition started or its provisional values changed: show them. */
  void provisional(TransitionEvent event);

  /** The owner committed the transition's values: the provisional state is now the real one. */
  default void ended(TransitionEvent event) {}

  /**
   * The transition is over without its values: cancelled by its origin, broken by another
   * commit of the owner or by another transition of the object. Drop the provisional state.
   */
  default void broken(TransitionEvent event) {}
}
