package dev.entanglement.hibernate.internal.store;

import java.util.List;
import java.util.Map;
import org.hibernate.engine.spi.SessionFactoryImplementor;

/**
 * Reads of the bookkeeping tables for operators and the ownership rooms, each in a short
 * session of its own. Stateless and thread-safe.
 */
public final class BookkeepingReads {
  private final SessionFactoryImplementor factory;
  private final Bookkeeping bookkeeping;

  public BookkeepingReads(SessionFactoryImplementor factory, Bookkeeping bookkeeping) {
    this.factory = factory;
    this.bookkeeping = bookkeeping;
  }

  /** An object's bookkeeping row, or null. */
  public Bookkeeping.ObjectRow row(String entity, String id) {
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      return session.doReturningWork(c -> bookkeeping.read(c, entity, id));
    }
  }

  /** An object's row by its key {@code entity#id}, or null. */
  public Bookkeeping.ObjectRow row(String key) {
    int hash = key.indexOf('#');
    return row(key.substring(0, hash), key.substring(hash + 1));
  }

  /** The states the object's ({@code entity#id}) changes in {@code (after, through]} replaced (see {@link PriorStates#between}). */
  public List<PriorStates.Entry> priorStates(String owner, String key, long after, long through, int limit) {
    int hash = key.indexOf('#');
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      return session.doReturningWork(c -> bookkeeping.priorStates().between(c, owner, key.substring(0, hash),
          key.substring(hash + 1), after, through, limit));
    }
  }

  /** How many of an owner's rows have a serial above {@code after}. */
  public long countChangedSince(String owner, long after) {
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      return session.doReturningWork(c -> bookkeeping.countChangedSince(c, owner, after));
    }
  }

  /** Per owner, the highest serial of its objects stored here. */
  public Map<String, Long> highestSerials() {
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      return session.doReturningWork(bookkeeping::highestSerials);
    }
  }

  /** A page of rows in (entity, id) order; see {@link Bookkeeping#page}. */
  public java.util.List<Bookkeeping.ObjectRow> page(String entity, String owner, String afterEntity, String afterId,
      int limit) {
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      return session.doReturningWork(c -> bookkeeping.page(c, entity, owner, afterEntity, afterId, limit));
    }
  }

  /** Per owner held here: [live objects, tombstones]. */
  public Map<String, long[]> ownerCounts() {
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      return session.doReturningWork(bookkeeping::ownerCounts);
    }
  }
}
