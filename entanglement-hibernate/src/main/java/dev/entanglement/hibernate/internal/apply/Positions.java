package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.proto.v1.OwnerPosition;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * This node's owner positions: how far it holds each owner's objects complete, stored in
 * {@code entanglement_owner_position} and cached in memory. A position never moves back, except
 * when a full synchronization sets it or an owner is removed.
 *
 * <h2>Concurrency</h2>
 * {@code positions} is concurrent: read from any thread; changed only by the applier's callers
 * ({@link InboundApplier}, {@link OwnerSweeper}), after the transaction that wrote the same rows
 * has committed.
 */
final class Positions {
  private final Bookkeeping bookkeeping;
  private final Map<String, Long> positions = new ConcurrentHashMap<>();

  Positions(Bookkeeping bookkeeping) {
    this.bookkeeping = bookkeeping;
  }

  /** Adds the stored positions to the cache. */
  void load(Connection connection) throws SQLException {
    positions.putAll(bookkeeping.ownerPositions(connection));
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
