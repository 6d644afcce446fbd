package dev.entanglement.hibernate;

import java.util.Map;
import java.util.Optional;

/**
 * Synchronized in-memory objects of one type that are not JPA entities: presence, cursor
 * positions, request and response records, errors. Obtained with {@link Entanglement#ephemeral};
 * every node that wants them registers the same record type.
 *
 * <p>They travel like entities (coalesced per object, through the same streams, relays and
 * policies) but never touch a database. Each object is owned by the node that put it first; only
 * its owner changes or removes it. At the other nodes it disappears when its owner removes it,
 * when its owner goes away (every way to it ends; a node that still reaches the owner another
 * way keeps it) or when its time to live passes without a newer state; the owner keeps it alive
 * by putting it again. A node that connects receives the current objects. See
 * {@code docs/ephemeral.md}.
 *
 * <p>Thread-safe.
 *
 * @param <T> a record type whose components have the types entity attributes may have: strings,
 *     {@code char}, numbers, booleans, enums, {@code UUID}, {@code BigDecimal},
 *     {@code BigInteger}, {@code byte[]} and {@code java.time} values
 */
public interface EphemeralObjects<T> {
  /**
   * Creates or replaces the object {@code id} with this node as its owner, and sends it to every
   * peer. Never waits for the network. With a time to live, putting the object again (even
   * unchanged) keeps it alive.
   *
   * @throws IllegalStateException if another node owns {@code id}: only an object's owner writes
   *     it (a request/response pattern is two objects, one owned by each side)
   * @throws IllegalArgumentException if {@code id} is empty or {@code value} is null
   */
  void put(String id, T value);

  /**
   * Removes an object this node owns, everywhere. Returns whether it existed.
   *
   * @throws IllegalStateException if another node owns {@code id}
   */
  boolean remove(String id);

  /** The object as this node knows it now. */
  Optional<T> get(String id);

  /** Every object of the type this node knows now, by id. */
  Map<String, T> all();

  /** The node that owns the object, if this node knows it. */
  Optional<String> ownerOf(String id);

  /** Calls the listener for every change of an object of the type (on a plugin thread, in order). */
  void subscribe(Listener<T> listener);

  void unsubscribe(Listener<T> listener);

  /**
   * Told of ephemeral objects that appear, change and disappear, in the order this node learns
   * of them, on one plugin thread per node. A listener that throws is logged and does not stop
   * the others.
   */
  interface Listener<T> {
    /** An object this node did not know appeared (put here, or received). Defaults to {@link #updated}. */
    default void added(String id, T value, String owner) {
      updated(id, value, owner);
    }

    /** A newer state of an object this node knew. */
    void updated(String id, T value, String owner);

    /** The object is gone: removed by its owner, its owner went away, or its time to live passed. */
    default void removed(String id, String owner) {}
  }
}
