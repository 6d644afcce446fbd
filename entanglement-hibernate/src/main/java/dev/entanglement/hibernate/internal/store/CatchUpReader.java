package dev.entanglement.hibernate.internal.store;

import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.core.CatchUpChunk;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.entanglement.hibernate.internal.core.RawChanges;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ParkedRow;
import dev.entanglement.proto.v1.Change;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

  /**
   * The owner's objects changed after a serial, in serial order, at most {@code limit}: the
   * latest state of each, and the changes of entity types this node does not have, parked raw
   * here (a relay passes them on undecoded; they never have a bookkeeping row of their own).
   */
  public CatchUpChunk read(String owner, long after, int limit) {
    return inTransaction(session -> {
      List<ObjectRow> rows = session.doReturningWork(c -> bookkeeping.changedSince(c, owner, after, limit));
      List<ParkedRow> raw = new ArrayList<>(session.doReturningWork(c -> bookkeeping.parkedRawSince(c, owner, after, limit)));
      raw.removeIf(row -> model.byName(row.entity()) != null); // known now: applied on the next retry, then sent as usual
      boolean complete = rows.size() < limit && raw.size() < limit;
      long last = after;
      if (!raw.isEmpty()) {
        // both in serial order: keep the lowest `limit` serials of the two, so the cursor skips nothing
        List<Long> serials = new ArrayList<>(rows.size() + raw.size());
        rows.forEach(row -> serials.add(row.serial()));
        raw.forEach(row -> serials.add(row.serial()));
        serials.sort(null);
        if (serials.size() > limit) {
          long through = serials.get(limit - 1);
          rows = rows.stream().filter(row -> row.serial() <= through).toList();
          raw.removeIf(row -> row.serial() > through);
          complete = false;
        }
      }
      for (ObjectRow row : rows) {
        last = Math.max(last, row.serial());
      }
      List<Outgoing> changes = new ArrayList<>(changes(session, rows));
      for (ParkedRow row : raw) {
        last = Math.max(last, row.serial());
        Outgoing outgoing = rawChange(row);
        if (outgoing != null) {
          changes.add(outgoing);
        }
      }
      return new CatchUpChunk(changes, last, complete);
    });
  }

  private static Outgoing rawChange(ParkedRow row) {
    try {
      return RawChanges.outgoing(Change.parseFrom(row.change()));
    } catch (InvalidProtocolBufferException e) {
      LOG.debugf("Catch-up skips the parked change of %s#%s: it cannot be read", row.entity(), row.id());
      return null;
    }
  }

  /** The current state of every object of an entity type this node holds (for a scoped resync). */
  public List<Outgoing> readEntity(String entity, String ownerOrNull) {
    return inTransaction(session -> {
      List<ObjectRow> rows = session.doReturningWork(c -> bookkeeping.rowsOfEntity(c, entity));
      if (ownerOrNull != null) {
        rows = rows.stream().filter(row -> row.owner().equals(ownerOrNull)).toList();
      }
      return changes(session, rows);
    });
  }

  private <T> T inTransaction(java.util.function.Function<StatelessSession, T> work) {
    try (StatelessSession session = factory.openStatelessSession()) {
      session.beginTransaction();
      try {
        T result = work.apply(session);
        session.getTransaction().commit();
        return result;
      } catch (RuntimeException e) {
        if (session.getTransaction().isActive()) {
          session.getTransaction().rollback();
        }
        throw e;
      }
    }
  }

  /** The rows' objects as changes, loaded with one query per entity type. */
  private List<Outgoing> changes(StatelessSession session, List<ObjectRow> rows) {
    Map<EntangledType, List<Object>> idsByType = new LinkedHashMap<>();
    List<Object> ids = new ArrayList<>(rows.size());
    for (ObjectRow row : rows) {
      EntangledType type = model.byName(row.entity());
      Object id = type == null ? null : type.idCodec().parseText(row.id());
      ids.add(id);
      if (type != null && !row.deleted()) {
        idsByType.computeIfAbsent(type, t -> new ArrayList<>()).add(id);
      }
    }
    Map<String, Object> loaded = new HashMap<>();
    for (Map.Entry<EntangledType, List<Object>> entry : idsByType.entrySet()) {
      EntangledType type = entry.getKey();
      List<?> entities = session.getMultiple(type.persister().getMappedClass(), entry.getValue());
      for (int i = 0; i < entities.size(); i++) {
        if (entities.get(i) != null) {
          loaded.put(type.key(type.idText(entry.getValue().get(i))), entities.get(i));
        }
      }
    }
    List<Outgoing> changes = new ArrayList<>(rows.size());
    for (int i = 0; i < rows.size(); i++) {
      ObjectRow row = rows.get(i);
      EntangledType type = model.byName(row.entity());
      if (type == null) {
        LOG.debugf("Catch-up skips %s#%s: not a replicated entity any more", row.entity(), row.id());
        continue;
      }
      Object id = ids.get(i);
      String key = type.key(row.id());
      Object entity = row.deleted() ? null : loaded.get(key);
      Change change = entity == null
          ? type.delete(id, row.owner(), row.serial())
          : type.upsert(id, type.persister().getValues(entity), row.owner(), row.serial());
      if (row.epoch() > 0 || row.handoverTo() != null) {
        Change.Builder withEpoch = change.toBuilder().setEpoch(row.epoch());
        if (row.handoverTo() != null && !row.deleted()) {
          withEpoch.setHandoverTo(row.handoverTo());
        }
        change = withEpoch.build();
      }
      changes.add(new Outgoing(key, type.priority(), type.coalesce(), change));
    }
    return changes;
  }
}
