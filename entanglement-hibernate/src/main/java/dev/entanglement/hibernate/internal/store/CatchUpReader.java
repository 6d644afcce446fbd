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
import dev.entanglement.proto.v1.Operation;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Set;
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
 * objects deleted since. One message per object, however often it changed, except for types
 * that send every change ({@code coalesce = false}): their earlier states still in the
 * {@link ChangeLog} come too, each in its place in serial order.
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
  /** Whether any type sends every change (else the change log is never read). */
  private final boolean logsChanges;

  /** Signed state: this node's name (its own objects are signed when sent), or null when signing is off. */
  private volatile String signingNode;

  /**
   * Signed state is on: other owners' objects are sent as their owners signed them (the change
   * stored with the row when it was applied), not rebuilt from the row.
   */
  public void signedState(String nodeName) {
    this.signingNode = nodeName;
  }

  public CatchUpReader(SessionFactoryImplementor factory, EntangledModel model, Bookkeeping bookkeeping) {
    this.factory = factory;
    this.model = model;
    this.bookkeeping = bookkeeping;
    this.logsChanges = model.types().stream().anyMatch(type -> !type.coalesce());
  }

  /**
   * Reads the next chunk of what the owner changed after {@code after}, in serial order: at most
   * {@code limit} objects' latest states; the changes of entity types this node does not have,
   * parked raw here (a relay passes them on undecoded; they have no bookkeeping row of their
   * own), at most {@code limit}; and with {@code everyChange}, at most {@code limit} logged
   * earlier states of "send every change" types. When any read is full, the chunk ends at the
   * lowest of the full reads' last serials, so the next chunk continues from there and nothing is
   * skipped in between.
   */
  public CatchUpChunk read(String owner, long after, int limit, boolean everyChange) {
    return inTransaction(session -> {
      List<ObjectRow> rows = session.doReturningWork(c -> bookkeeping.changedSince(c, owner, after, limit));
      List<ParkedRow> raw = new ArrayList<>(session.doReturningWork(c -> bookkeeping.parkedRawSince(c, owner, after, limit)));
      boolean rawFull = raw.size() >= limit;
      long rawLast = raw.isEmpty() ? after : raw.get(raw.size() - 1).serial();
      raw.removeIf(row -> model.byName(row.entity()) != null); // known now: applied on the next retry, then sent as usual
      List<ChangeLog.Entry> logged = everyChange && logsChanges
          ? session.doReturningWork(c -> bookkeeping.changeLog().after(c, owner, after, limit))
          : List.of();
      long cut = Long.MAX_VALUE;
      if (rows.size() >= limit) {
        cut = rows.get(rows.size() - 1).serial();
      }
      if (rawFull) {
        cut = Math.min(cut, rawLast);
      }
      if (logged.size() >= limit) {
        cut = Math.min(cut, logged.get(logged.size() - 1).serial());
      }
      long through = cut;
      rows = rows.stream().filter(row -> row.serial() <= through).toList();
      raw.removeIf(row -> row.serial() > through);
      logged = logged.stream().filter(entry -> entry.serial() <= through).toList();
      long last = cut == Long.MAX_VALUE ? after : cut;
      for (ObjectRow row : rows) {
        last = Math.max(last, row.serial());
      }
      for (ChangeLog.Entry entry : logged) {
        last = Math.max(last, entry.serial());
      }
      List<Outgoing> changes = changes(session, rows);
      if (rows.stream().anyMatch(ObjectRow::deleted)) {
        changes = withdrawals(session, owner, after, last, changes);
      }
      if (!logged.isEmpty()) {
        changes = merge(changes, rows, logged);
      }
      if (!raw.isEmpty()) {
        List<Outgoing> all = new ArrayList<>(changes);
        for (ParkedRow row : raw) {
          last = Math.max(last, row.serial());
          Outgoing outgoing = rawChange(row);
          if (outgoing != null) {
            all.add(outgoing);
          }
        }
        all.sort(Comparator.comparingLong(outgoing -> outgoing.change().getSerial()));
        changes = all;
      }
      return new CatchUpChunk(changes, last, cut == Long.MAX_VALUE);
    });
  }

  /**
   * The tombstones that are withdrawals this node applied (a relay), as withdrawals: the planner
   * passes each on only to a peer this node's policies allowed the copy it had, never as a deletion
   * (docs/design/withdrawal.md).
   */
  private List<Outgoing> withdrawals(StatelessSession session, String owner, long after, long through,
      List<Outgoing> changes) {
    Set<Long> withdrawn = session.doReturningWork(c -> bookkeeping.priorStates().withdrawnBetween(c, owner, after,
        through));
    if (withdrawn.isEmpty()) {
      return changes;
    }
    List<Outgoing> result = new ArrayList<>(changes.size());
    for (Outgoing outgoing : changes) {
      Change change = outgoing.change();
      result.add(change.getOperation() == Operation.DELETE && withdrawn.contains(change.getSerial())
          ? new Outgoing(outgoing.key(), outgoing.priority(), outgoing.coalesce(),
              change.toBuilder().setOperation(Operation.WITHDRAW).build())
          : outgoing);
    }
    return result;
  }

  private static Outgoing rawChange(ParkedRow row) {
    try {
      return RawChanges.outgoing(Change.parseFrom(row.change()));
    } catch (InvalidProtocolBufferException e) {
      LOG.debugf("Catch-up skips the parked change of %s#%s: it cannot be read", row.entity(), row.id());
      return null;
    }
  }

  /**
   * The logged earlier states merged with the objects' latest states, in serial order. A logged
   * change with the serial of an object's row is that row's state, sent once (from the row, which
   * also notices an object deleted behind the plugin's back).
   */
  private List<Outgoing> merge(List<Outgoing> latest, List<ObjectRow> rows, List<ChangeLog.Entry> logged) {
    Set<Long> rowSerials = new HashSet<>();
    for (ObjectRow row : rows) {
      rowSerials.add(row.serial());
    }
    List<Outgoing> merged = new ArrayList<>(latest.size() + logged.size());
    merged.addAll(latest);
    for (ChangeLog.Entry entry : logged) {
      EntangledType type = model.byName(entry.entity());
      if (rowSerials.contains(entry.serial()) || type == null || type.coalesce()) {
        continue; // sent from the row; or no longer a type whose every change is sent
      }
      Change change;
      try {
        change = Change.parseFrom(entry.change()).toBuilder().setSerial(entry.serial()).build();
      } catch (InvalidProtocolBufferException e) {
        LOG.errorf("Catch-up skips the logged change of %s#%s at serial %d: it cannot be read (%s); its "
            + "latest state is sent", entry.entity(), entry.id(), entry.serial(), e.getMessage());
        continue;
      }
      merged.add(new Outgoing(type.key(entry.id()), type.priority(), false, change));
    }
    merged.sort(Comparator.comparingLong(outgoing -> outgoing.change().getSerial()));
    return merged;
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
    try (var permit = ConnectionBudget.of(factory).enter(); StatelessSession session = factory.openStatelessSession()) {
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

  /** Signed state: the stored signed changes of the rows of other owners, by key (empty when off). */
  private Map<String, Change> signedChanges(StatelessSession session, List<ObjectRow> rows) {
    String self = signingNode;
    if (self == null) {
      return Map.of();
    }
    Map<String, List<String>> idsByEntity = new LinkedHashMap<>();
    for (ObjectRow row : rows) {
      if (!row.owner().equals(self)) {
        idsByEntity.computeIfAbsent(row.entity(), e -> new ArrayList<>()).add(row.id());
      }
    }
    Map<String, Change> signed = new HashMap<>();
    for (Map.Entry<String, List<String>> entry : idsByEntity.entrySet()) {
      Map<String, byte[]> found = session.doReturningWork(c -> bookkeeping.signedChanges(c, entry.getKey(), entry.getValue()));
      found.forEach((id, bytes) -> {
        try {
          signed.put(entry.getKey() + '#' + id, Change.parseFrom(bytes));
        } catch (InvalidProtocolBufferException e) {
          LOG.debugf("Catch-up rebuilds %s#%s: its stored signed change cannot be read", entry.getKey(), id);
        }
      });
    }
    return signed;
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
    Map<String, Change> signed = signedChanges(session, rows);
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
      Change asSigned = signed.get(key);
      if (asSigned != null && asSigned.getOwner().equals(row.owner()) && asSigned.getSerial() == row.serial()
          && asSigned.getEpoch() == row.epoch()
          && (asSigned.getOperation() == dev.entanglement.proto.v1.Operation.DELETE) == row.deleted()) {
        changes.add(new Outgoing(key, type.priority(), type.coalesce(), asSigned));
        continue;
      }
      Object entity = row.deleted() ? null : loaded.get(key);
      Change change = entity == null
          ? type.delete(id, row.owner(), row.serial())
          : type.upsert(id, type.values(session, entity), row.owner(), row.serial());
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
