package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.proto.v1.OwnerPosition;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * This node's owner positions: how far it holds each owner's objects complete, stored in
 * {@code entanglement_owner_position} and cached in memory. A position never moves back, except
 * when a full synchronization sets it or an owner is removed.
 *
 * <p>It also knows every owner whose objects this node may hold, with a position or not yet (an
 * owner's first batches often carry none): a peer's catch-up must cover each of them, or the
 * owner's position, arriving later, would pass objects the peer never got.
 *
 * <h2>Concurrency</h2>
 * {@code positions} and {@code owners} are concurrent: read from any thread. Positions change
 * only by the applier's callers ({@link InboundApplier}, {@link OwnerSweeper}), after the
 * transaction that wrote the same rows has committed; an owner is added before the transaction
 * that may write its first object (so before any relay of it), and never removed while the
 * node runs (an owner without objects costs a catch-up read that finds nothing).
 */
final class Positions {
  private final Bookkeeping bookkeeping;
  private final Map<String, Long> positions = new ConcurrentHashMap<>();
  private final Set<String> owners = ConcurrentHashMap.newKeySet();

  Positions(Bookkeeping bookkeeping) {
    this.bookkeeping = bookkeeping;
  }

  /** Adds the stored positions, and the owners whose objects are stored, to the cache. */
  void load(Connection connection) throws SQLException {
    positions.putAll(bookkeeping.ownerPositions(connection));
    owners.addAll(bookkeeping.heldOwners(connection));
  }

  /** This node is about to write (or park) an object of the owner. */
  void holding(String owner) {
    owners.add(owner);
  }

  /** Every owner whose objects this node may hold, with a position or not. */
  Set<String> owners() {
    Set<String> all = new HashSet<>(owners);
    all.addAll(positions.keySet());
    return all;
  }

  /** This node's position of the owner (0 when it has none). */
  long of(String owner) {
    return positions.getOrDefault(owner, 0L);
  }

  /** A copy of the positions. */
  Map<String, Long> snapshot() {
    return Map.copyOf(positions);
  }

  /** The positions to store from those received: only those above what is held already. */
  Map<String, Long> advance(List<OwnerPosition> received) {
    Map<String, Long> result = new HashMap<>();
    for (OwnerPosition position : received) {
      if (position.getSerial() > positions.getOrDefault(position.getOwner(), 0L)) {
        result.put(position.getOwner(), position.getSerial());
      }
    }
    return result;
  }

  /** Writes positions in the caller's transaction (the cache follows after commit). */
  void write(Connection connection, Map<String, Long> newPositions) throws SQLException {
    bookkeeping.writeOwnerPositions(connection, newPositions);
  }

  /** Moves the cache forward once written positions are committed. */
  void committed(Map<String, Long> newPositions) {
    newPositions.forEach((owner, serial) -> positions.merge(owner, serial, Math::max));
  }

  /** Sets an owner's position once written and committed (a full synchronization's end). */
  void set(String owner, long serial) {
    positions.put(owner, serial);
  }

  /** Forgets an owner's position (its stored row is gone). */
  void forget(String owner) {
    positions.remove(owner);
  }
}
