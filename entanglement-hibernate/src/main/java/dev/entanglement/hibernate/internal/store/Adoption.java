package dev.entanglement.hibernate.internal.store;

import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.Change;
import jakarta.persistence.LockModeType;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;
import org.hibernate.StatelessSession;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.hibernate.engine.spi.SharedSessionContractImplementor;

/**
 * The database side of adoption (docs/adoption.md): one chunk of an entity type's rows, in id
 * order after a durable cursor (and then of its bookkeeping, for rows deleted behind the
 * plugin's back: {@link #sweep}), read with a row lock and claimed in one transaction: rows the
 * bookkeeping does not know, and this node's rows whose state differs from the digest of what it
 * last announced, get a bookkeeping row (this node, a new serial, the state's digest); the cursor
 * moves in the same transaction, so a node killed during an adoption resumes after the last
 * committed chunk. The rows stay locked until the chunk commits: an application transaction
 * writing one of them waits and then commits with a later serial, so its state wins.
 *
 * <h2>Concurrency</h2>
 * Stateless and thread-safe; each call uses its own session and transaction.
 */
public final class Adoption {
  /** The phases of an adoption of one type, as stored in {@code entanglement_adoption.state}. */
  public enum Phase {
    /** Reading the table's rows after the cursor (an id of the table). */
    RUNNING,
    /** Reading this node's bookkeeping rows after the cursor (an object id) for rows deleted behind its back. */
    SWEEPING,
    DONE
  }

  /** A durable cursor: one row of {@code entanglement_adoption}. */
  public record Cursor(String entity, Phase phase, String afterId, long scanned, long announced, long skipped,
      long removed) {
    static Cursor fresh(String entity) {
      return new Cursor(entity, Phase.RUNNING, null, 0, 0, 0, 0);
    }

    public boolean done() {
      return phase == Phase.DONE;
    }
  }

  /** What a committed chunk did: the changes to offer peers, and the cursor after it. */
  public record Chunk(List<Outgoing> changes, Cursor cursor, int announced, int skipped) {}

  /** What the chunk needs from the running node. */
  public interface Serials {
    /** The next serial of this node's own objects (unfinished until the caller finishes it). */
    long next();

    /** The ownership epoch of one of this node's objects (0 unless handed over before). */
    long ownEpoch(String key);
  }

  private final SessionFactoryImplementor factory;
  private final EntangledModel model;
  private final Bookkeeping bookkeeping;
  private final String self;

  public Adoption(SessionFactoryImplementor factory, EntangledModel model, Bookkeeping bookkeeping, String self) {
    this.factory = factory;
    this.model = model;
    this.bookkeeping = bookkeeping;
    this.self = self;
  }

  /** The durable cursors, by entity name. */
  public Map<String, Cursor> cursors() {
    return inTransaction((session, connection) -> {
      Map<String, Cursor> cursors = new LinkedHashMap<>();
      try (PreparedStatement statement = connection.prepareStatement("SELECT entity_name, state, after_id, scanned, "
          + "announced, skipped, removed FROM entanglement_adoption ORDER BY entity_name");
          ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          cursors.put(rs.getString(1), new Cursor(rs.getString(1), Phase.valueOf(rs.getString(2)), rs.getString(3),
              rs.getLong(4), rs.getLong(5), rs.getLong(6), rs.getLong(7)));
        }
      }
      return cursors;
    });
  }

  /** Starts an adoption of the type from its first row (forgetting a finished one), durably. */
  public Cursor restart(String entity, long nowMs) {
    Cursor fresh = Cursor.fresh(entity);
    inTransaction((session, connection) -> {
      save(connection, fresh, nowMs, true);
      return null;
    });
    return fresh;
  }

  /**
   * Adopts the next chunk of at most {@code size} rows of the type after the cursor, in one
   * transaction. Every serial taken is added to {@code taken} (also when the chunk fails: the
   * caller finishes them either way).
   */
  public Chunk next(EntangledType type, Cursor cursor, int size, Serials serials, List<Long> taken, long nowMs) {
    if (cursor.phase() == Phase.SWEEPING) {
      return sweep(type, cursor, size, serials, taken, nowMs);
    }
    return inTransaction((session, connection) -> {
      var persister = type.persister();
      StringBuilder hql = new StringBuilder("from ").append(persister.getEntityName()).append(" e");
      if (cursor.afterId() != null) {
        hql.append(" where e.id > :after");
      }
      hql.append(" order by e.id");
      var query = session.createSelectionQuery(hql.toString(), Object.class)
          .setMaxResults(size)
          .setLockMode(LockModeType.PESSIMISTIC_WRITE); // see the class comment: latest state wins
      if (cursor.afterId() != null) {
        query.setParameter("after", type.idCodec().parseText(cursor.afterId()));
      }
      List<Object> loaded = query.getResultList();
      SharedSessionContractImplementor implementor = (SharedSessionContractImplementor) session;
      List<String> ids = new ArrayList<>(loaded.size());
      List<Object> idValues = new ArrayList<>(loaded.size());
      for (Object entity : loaded) {
        Object id = persister.getIdentifier(entity, implementor);
        idValues.add(id);
        ids.add(type.idText(id));
      }
      Map<String, Known> known = known(connection, type.name(), ids);
      List<ObjectRow> rows = new ArrayList<>();
      List<Long> digests = new ArrayList<>();
      List<ChangeLog.Entry> logged = new ArrayList<>(0);
      List<Outgoing> changes = new ArrayList<>();
      int skipped = 0;
      for (int i = 0; i < loaded.size(); i++) {
        Object entity = loaded.get(i);
        EntangledType actual = model.byEntityName(factory.getMappingMetamodel()
            .getEntityDescriptor(entity.getClass()).getEntityName());
        if (actual != type) {
          skipped++; // a subclass's row: adopted with its own type
          continue;
        }
        String idText = ids.get(i);
        String key = type.key(idText);
        Change unsent = type.upsert(idValues.get(i), type.values(session, entity), self, 0);
        Long digest = StateDigest.of(unsent);
        Known row = known.get(idText);
        if (row != null && !announce(row, digest)) {
          skipped++;
          continue;
        }
        long serial = serials.next();
        taken.add(serial);
        long epoch = row != null && row.epoch() > 0 ? row.epoch() : serials.ownEpoch(key);
        Change.Builder change = unsent.toBuilder().setSerial(serial);
        if (epoch > 0) {
          change.setEpoch(epoch);
        }
        Change built = change.build();
        rows.add(new ObjectRow(type.name(), idText, self, serial, false));
        digests.add(digest);
        if (!type.coalesce()) {
          // as capture does: every state of such a type is logged with its bookkeeping row
          logged.add(new ChangeLog.Entry(self, serial, type.name(), idText, built.toByteArray()));
        }
        changes.add(new Outgoing(key, type.priority(), type.coalesce(), built));
      }
      bookkeeping.write(connection, rows, digests);
      bookkeeping.changeLog().append(connection, logged);
      // the table is read: the bookkeeping of this node's objects is next (rows deleted behind its back)
      boolean last = loaded.size() < size;
      Cursor next = new Cursor(cursor.entity(), last ? Phase.SWEEPING : Phase.RUNNING,
          last ? null : ids.get(ids.size() - 1), cursor.scanned() + loaded.size(), cursor.announced() + changes.size(),
          cursor.skipped() + skipped, cursor.removed());
      save(connection, next, nowMs, false);
      return new Chunk(changes, next, changes.size(), skipped);
    });
  }

  /**
   * The second phase: the next chunk of this node's live objects of the type in the bookkeeping
   * (their rows locked, so a capture of one of them waits), in object id order after the cursor;
   * those whose row is gone (deleted behind the plugin's back: bulk HQL or SQL) are announced as
   * deleted with a new serial.
   */
  private Chunk sweep(EntangledType type, Cursor cursor, int size, Serials serials, List<Long> taken, long nowMs) {
    return inTransaction((session, connection) -> {
      List<String> ids = new ArrayList<>();
      Map<String, Long> epochs = new HashMap<>();
      try (PreparedStatement statement = connection.prepareStatement("SELECT object_id, epoch FROM entanglement_object "
          + "WHERE entity_name = ? AND owner_node = ? AND deleted = FALSE AND handover_to IS NULL "
          + "AND pending_change IS NULL" + (cursor.afterId() == null ? "" : " AND object_id > ?")
          + " ORDER BY object_id LIMIT " + size + " FOR UPDATE")) {
        statement.setString(1, type.name());
        statement.setString(2, self);
        if (cursor.afterId() != null) {
          statement.setString(3, cursor.afterId());
        }
        try (ResultSet rs = statement.executeQuery()) {
          while (rs.next()) {
            ids.add(rs.getString(1));
            epochs.put(rs.getString(1), rs.getLong(2));
          }
        }
      }
      java.util.Set<String> present = new java.util.HashSet<>();
      if (!ids.isEmpty()) {
        List<Object> values = ids.stream().map(id -> type.idCodec().parseText(id)).toList();
        for (Object id : session.createSelectionQuery("select e.id from " + type.persister().getEntityName()
            + " e where e.id in (:ids)", Object.class).setParameter("ids", values).getResultList()) {
          present.add(type.idText(id));
        }
      }
      List<ObjectRow> rows = new ArrayList<>();
      List<ChangeLog.Entry> logged = new ArrayList<>(0);
      List<Outgoing> changes = new ArrayList<>();
      for (String idText : ids) {
        if (present.contains(idText)) {
          continue;
        }
        long serial = serials.next();
        taken.add(serial);
        String key = type.key(idText);
        long epoch = epochs.get(idText) > 0 ? epochs.get(idText) : serials.ownEpoch(key);
        Change change = type.delete(type.idCodec().parseText(idText), self, serial);
        if (epoch > 0) {
          change = change.toBuilder().setEpoch(epoch).build();
        }
        rows.add(new ObjectRow(type.name(), idText, self, serial, true));
        if (!type.coalesce()) {
          logged.add(new ChangeLog.Entry(self, serial, type.name(), idText, change.toByteArray()));
        }
        changes.add(new Outgoing(key, type.priority(), type.coalesce(), change));
      }
      bookkeeping.write(connection, rows);
      bookkeeping.changeLog().append(connection, logged);
      boolean last = ids.size() < size;
      Cursor next = new Cursor(cursor.entity(), last ? Phase.DONE : Phase.SWEEPING,
          last ? null : ids.get(ids.size() - 1), cursor.scanned(), cursor.announced(), cursor.skipped(),
          cursor.removed() + changes.size());
      save(connection, next, nowMs, false);
      return new Chunk(changes, next, changes.size(), 0);
    });
  }

  /**
   * The rules (docs/adoption.md): another node's object (or one being handed over) is left alone;
   * this node's object is announced when its row is a tombstone (the row came back behind the
   * plugin's back), when no digest of what it announced last is known, or when it differs.
   */
  static boolean announce(Known row, Long digest) {
    if (!row.owner().equals(row.self()) || row.handoverTo() != null) {
      return false;
    }
    return row.deleted() || row.digest() == null || !row.digest().equals(digest);
  }

  /** An object's bookkeeping as adoption needs it. */
  record Known(String self, String owner, boolean deleted, long epoch, String handoverTo, Long digest) {}

  private Map<String, Known> known(Connection connection, String entity, List<String> ids) throws SQLException {
    Map<String, Known> found = new HashMap<>();
    for (int from = 0; from < ids.size(); from += 256) {
      List<String> part = ids.subList(from, Math.min(ids.size(), from + 256));
      try (PreparedStatement statement = connection.prepareStatement("SELECT object_id, owner_node, deleted, epoch, "
          + "handover_to, state_digest FROM entanglement_object WHERE entity_name = ? AND object_id IN ("
          + String.join(", ", Collections.nCopies(part.size(), "?")) + ")")) {
        statement.setString(1, entity);
        for (int i = 0; i < part.size(); i++) {
          statement.setString(i + 2, part.get(i));
        }
        try (ResultSet rs = statement.executeQuery()) {
          while (rs.next()) {
            long value = rs.getLong(6);
            Long digest = rs.wasNull() ? null : value; // right after its own read: wasNull is about the last column read
            found.put(rs.getString(1), new Known(self, rs.getString(2), rs.getBoolean(3), rs.getLong(4),
                rs.getString(5), digest));
          }
        }
      }
    }
    return found;
  }

  private void save(Connection connection, Cursor cursor, long nowMs, boolean restart) throws SQLException {
    boolean mariadb = bookkeeping.vendor() == Vendor.MARIADB;
    String sql = mariadb
        ? "INSERT INTO entanglement_adoption (entity_name, state, after_id, scanned, announced, skipped, removed, "
            + "started_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE "
            + "state = VALUES(state), after_id = VALUES(after_id), scanned = VALUES(scanned), "
            + "announced = VALUES(announced), skipped = VALUES(skipped), removed = VALUES(removed), "
            + "updated_ms = VALUES(updated_ms)" + (restart ? ", started_ms = VALUES(started_ms)" : "")
        : bookkeeping.postgres()
        ? "INSERT INTO entanglement_adoption (entity_name, state, after_id, scanned, announced, skipped, removed, "
            + "started_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entity_name) DO UPDATE SET "
            + "state = EXCLUDED.state, after_id = EXCLUDED.after_id, scanned = EXCLUDED.scanned, "
            + "announced = EXCLUDED.announced, skipped = EXCLUDED.skipped, removed = EXCLUDED.removed, "
            + "updated_ms = EXCLUDED.updated_ms"
            + (restart ? ", started_ms = EXCLUDED.started_ms" : "")
        : "MERGE INTO entanglement_adoption (entity_name, state, after_id, scanned, announced, skipped, removed, "
            + (restart ? "started_ms, " : "") + "updated_ms) KEY (entity_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?"
            + (restart ? ", ?" : "") + ")";
    try (PreparedStatement statement = connection.prepareStatement(sql)) {
      statement.setString(1, cursor.entity());
      statement.setString(2, cursor.phase().name());
      statement.setString(3, cursor.afterId());
      statement.setLong(4, cursor.scanned());
      statement.setLong(5, cursor.announced());
      statement.setLong(6, cursor.skipped());
      statement.setLong(7, cursor.removed());
      statement.setLong(8, nowMs);
      if (mariadb || bookkeeping.postgres() || restart) {
        statement.setLong(9, nowMs);
      }
      statement.executeUpdate();
    }
  }

  @FunctionalInterface
  private interface Work<T> {
    T run(StatelessSession session, Connection connection) throws SQLException;
  }

  private <T> T inTransaction(Work<T> work) {
    try (var permit = ConnectionBudget.of(factory).enter(); StatelessSession session = factory.openStatelessSession()) {
      var tx = session.beginTransaction();
      try {
        T result = work.run(session, session.doReturningWork(c -> c));
        tx.commit();
        return result;
      } catch (SQLException e) {
        rollback(tx);
        throw new org.hibernate.JDBCException("adoption: " + e.getMessage(), e);
      } catch (RuntimeException e) {
        rollback(tx);
        throw e;
      }
    }
  }

  private static void rollback(org.hibernate.Transaction tx) {
    try {
      if (tx.isActive()) {
        tx.rollback();
      }
    } catch (RuntimeException ignored) {
      // the original failure is the one to report
    }
  }
}
