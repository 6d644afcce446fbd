package dev.entanglement.hibernate.internal.store;

import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * Moves the serials of this node's stored objects up, in one transaction, when a peer holds more
 * of them than this node's database does (see {@link SerialClock#moveAbove}). Stateless.
 */
public final class SerialShift {
  private static final Logger LOG = Logger.getLogger(SerialShift.class);

  private final SessionFactoryImplementor factory;
  private final Bookkeeping bookkeeping;
  private final String nodeName;

  public SerialShift(SessionFactoryImplementor factory, Bookkeeping bookkeeping, String nodeName) {
    this.factory = factory;
    this.bookkeeping = bookkeeping;
    this.nodeName = nodeName;
  }

  /** Moves every serial of this node's objects up by {@code offset}. Throws if it cannot. */
  public void shift(long offset) {
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      session.beginTransaction();
      int moved = session.doReturningWork(connection -> bookkeeping.shiftSerials(connection, nodeName, offset));
      session.getTransaction().commit();
      LOG.infof("Node '%s' moved the serials of its %d objects up by %d", nodeName, moved, offset);
    }
  }
}
