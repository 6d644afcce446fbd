package dev.entanglement.hibernate.internal.store;

import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.peer.Outgoing;
import dev.entanglement.hibernate.internal.peer.PeerHost.CatchUpChunk;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.Change;
import java.util.ArrayList;
import java.util.List;
import org.hibernate.StatelessSession;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * Reads what a peer that was away has missed: the latest state of every object of an owner
 * changed after a serial (from the bookkeeping rows, in serial order), and DELETEs for the
 * objects deleted since. One message per object, however often it changed.
 *
 * <p>An object whose bookkeeping row says it exists but whose row is gone (deleted by SQL the
 * plugin cannot see) is sent as deleted: the owner's database is the truth.
 *
 * <h2>Concurrency</h2>
 * Stateless and thread-safe; each call uses its own session.
 */
public final class CatchUpReader {
  private static final Logger LOG = Logger.getLogger(CatchUpReader.class);

  private final SessionFactoryImplementor factory;
  private final EntangledModel model;
  private final Bookkeeping bookkeeping;

  public CatchUpReader(SessionFactoryImplementor factory, EntangledModel model, Bookkeeping bookkeeping) {
    this.factory = factory;
    this.model = model;
    this.bookkeeping = bookkeeping;
  }

  public CatchUpChunk read(String owner, long after, int limit) {
    try (StatelessSession session = factory.openStatelessSession()) {
      session.beginTransaction();
      try {
        List<ObjectRow> rows = session.doReturningWork(c -> bookkeeping.changedSince(c, owner, after, limit));
        List<Outgoing> changes = new ArrayList<>(rows.size());
        long last = after;
        for (ObjectRow row : rows) {
          last = Math.max(last, row.serial());
          EntangledType type = model.byName(row.entity());
          if (type == null) {
            LOG.debugf("Catch-up skips %s#%s: not a replicated entity any more", row.entity(), row.id());
            continue;
          }
          Object id = type.idCodec().parseText(row.id());
          Object entity = row.deleted() ? null : session.get(type.persister().getEntityName(), id);
          Change change;
          if (entity == null) {
            change = type.delete(id, owner, row.serial());
          } else {
            change = type.upsert(id, type.persister().getValues(entity), owner, row.serial());
          }
          changes.add(new Outgoing(type.key(row.id()), type.priority(), type.coalesce(), change));
        }
        session.getTransaction().commit();
        return new CatchUpChunk(changes, last, rows.size() < limit);
      } catch (RuntimeException e) {
        if (session.getTransaction().isActive()) {
          session.getTransaction().rollback();
        }
        throw e;
      }
    }
  }
}
