package dev.entanglement.hibernate.internal.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Changes of this node's own objects committed by members that do not hold the node's links
 * (table {@code entanglement_member_change}), and the objects' rows marked as waiting for them
 * ({@code entanglement_object.pending_change}). A follower records them in its committing
 * transaction ({@link #record}); the member holding the links gives them serials in a transaction
 * of its own ({@link #oldest}, {@link #stamp}, {@link #remove}), in the order they were recorded,
 * which for one object is the order of the database's row lock. A later write of the object's row
 * by any member clears the mark, so a superseded change is never stamped over a newer state.
 *
 * <h2>Concurrency</h2>
 * Stateless; every method works in the caller's transaction.
 */
public final class MemberChanges {
  /** A change a follower committed: the encoded change carries no serial yet. */
  public record Recorded(String entity, String idText, byte[] change) {}

  /** A recorded change waiting for its serial. */
  public record Waiting(long seq, String entity, String idText, byte[] change) {}

  private MemberChanges() {}

  /** The PostgreSQL channel on which a follower's commit wakes the holder ({@code LISTEN/NOTIFY}). */
  public static final String CHANNEL = "entanglement_member_change";

  /**
   * Records a follower's changes and marks their objects' rows (a new object gets a row with
   * serial 0, which no catch-up reads before it is stamped). On PostgreSQL it also notifies the
   * holder, which PostgreSQL delivers only once the transaction commits.
   */
  public static void record(Connection connection, String node, String memberId, List<Recorded> changes,
      boolean postgres) throws SQLException {
    if (postgres) {
      try (Statement notify = connection.createStatement()) {
        notify.execute("NOTIFY " + CHANNEL);
      }
    }
    try (PreparedStatement insert = connection.prepareStatement("INSERT INTO entanglement_member_change "
        + "(entity_name, object_id, member_id, change_data) VALUES (?, ?, ?, ?)", Statement.RETURN_GENERATED_KEYS);
        PreparedStatement mark = connection.prepareStatement(
            "UPDATE entanglement_object SET pending_change = ? WHERE entity_name = ? AND object_id = ?");
        PreparedStatement create = connection.prepareStatement("INSERT INTO entanglement_object (entity_name, "
            + "object_id, owner_node, serial, deleted, epoch, pending_change) VALUES (?, ?, ?, 0, FALSE, 0, ?)")) {
      for (Recorded change : changes) {
        insert.setString(1, change.entity());
        insert.setString(2, change.idText());
        insert.setString(3, memberId);
        insert.setBytes(4, change.change());
        insert.executeUpdate();
        long seq;
        try (ResultSet keys = insert.getGeneratedKeys()) {
          if (!keys.next()) {
            throw new SQLException("the database returned no key for a row of entanglement_member_change");
          }
          seq = keys.getLong(1);
        }
        mark.setLong(1, seq);
        mark.setString(2, change.entity());
        mark.setString(3, change.idText());
        if (mark.executeUpdate() == 0) {
          create.setString(1, change.entity());
          create.setString(2, change.idText());
          create.setString(3, node);
          create.setLong(4, seq);
          create.executeUpdate();
        }
      }
    }
  }

  /**
   * The oldest recorded changes of the given entity types, at most {@code limit}, in the order they
   * were recorded. Changes of other types (a member of a newer version maps them) wait for a
   * holder that has them.
   */
  public static List<Waiting> oldest(Connection connection, int limit, List<String> entities) throws SQLException {
    List<Waiting> waiting = new ArrayList<>();
    if (entities.isEmpty()) {
      return waiting;
    }
    String in = String.join(", ", java.util.Collections.nCopies(entities.size(), "?"));
    try (PreparedStatement select = connection.prepareStatement("SELECT seq, entity_name, object_id, change_data "
        + "FROM entanglement_member_change WHERE entity_name IN (" + in + ") ORDER BY seq LIMIT ?")) {
      int i = 1;
      for (String entity : entities) {
        select.setString(i++, entity);
      }
      select.setInt(i, limit);
      try (ResultSet rows = select.executeQuery()) {
        while (rows.next()) {
          waiting.add(new Waiting(rows.getLong(1), rows.getString(2), rows.getString(3), rows.getBytes(4)));
        }
      }
    }
    return waiting;
  }

  /**
   * Takes the oldest recorded changes of the given entity types out of the table (in the
   * caller's transaction), at most {@code limit}, in the order they were recorded: on PostgreSQL
   * in one statement ({@code DELETE ... RETURNING}), elsewhere a read and a batch of deletes.
   */
  public static List<Waiting> take(Connection connection, int limit, List<String> entities, boolean postgres)
      throws SQLException {
    if (!postgres) {
      List<Waiting> waiting = oldest(connection, limit, entities);
      remove(connection, waiting);
      return waiting;
    }
    List<Waiting> waiting = new ArrayList<>();
    if (entities.isEmpty()) {
      return waiting;
    }
    String in = String.join(", ", java.util.Collections.nCopies(entities.size(), "?"));
    try (PreparedStatement delete = connection.prepareStatement("DELETE FROM entanglement_member_change WHERE seq IN "
        + "(SELECT seq FROM entanglement_member_change WHERE entity_name IN (" + in + ") ORDER BY seq LIMIT ?) "
        + "RETURNING seq, entity_name, object_id, change_data")) {
      int i = 1;
      for (String entity : entities) {
        delete.setString(i++, entity);
      }
      delete.setInt(i, limit);
      try (ResultSet rows = delete.executeQuery()) {
        while (rows.next()) {
          waiting.add(new Waiting(rows.getLong(1), rows.getString(2), rows.getString(3), rows.getBytes(4)));
        }
      }
    }
    waiting.sort(java.util.Comparator.comparingLong(Waiting::seq)); // RETURNING keeps no order
    return waiting;
  }

  /**
   * {@link #stamp} for several changes in one batch (one round trip on PostgreSQL); for each,
   * whether the object's row took the serial.
   */
  public static boolean[] stampAll(Connection connection, List<Waiting> changes, String node, long[] serials,
      boolean[] deleted) throws SQLException {
    boolean[] stamped = new boolean[changes.size()];
    if (changes.isEmpty()) {
      return stamped;
    }
    try (PreparedStatement update = connection.prepareStatement("UPDATE entanglement_object SET serial = ?, "
        + "deleted = ?, pending_change = NULL, state_digest = NULL WHERE entity_name = ? AND object_id = ? AND pending_change = ? "
        + "AND owner_node = ?")) {
      for (int i = 0; i < changes.size(); i++) {
        Waiting change = changes.get(i);
        update.setLong(1, serials[i]);
        update.setBoolean(2, deleted[i]);
        update.setString(3, change.entity());
        update.setString(4, change.idText());
        update.setLong(5, change.seq());
        update.setString(6, node);
        update.addBatch();
      }
      int[] counts = update.executeBatch();
      for (int i = 0; i < counts.length; i++) {
        stamped[i] = counts[i] == 1;
      }
    }
    return stamped;
  }

  /**
   * Gives the object's row the serial if it still waits for this change and is still this node's;
   * false when a later write superseded the change (it is then dropped: the newer state is sent).
   */
  public static boolean stamp(Connection connection, Waiting change, String node, long serial, boolean deleted)
      throws SQLException {
    try (PreparedStatement update = connection.prepareStatement("UPDATE entanglement_object SET serial = ?, "
        + "deleted = ?, pending_change = NULL, state_digest = NULL WHERE entity_name = ? AND object_id = ? AND pending_change = ? "
        + "AND owner_node = ?")) {
      update.setLong(1, serial);
      update.setBoolean(2, deleted);
      update.setString(3, change.entity());
      update.setString(4, change.idText());
      update.setLong(5, change.seq());
      update.setString(6, node);
      return update.executeUpdate() == 1;
    }
  }

  /** Removes recorded changes once stamped (in the same transaction). */
  public static void remove(Connection connection, List<Waiting> stamped) throws SQLException {
    try (PreparedStatement delete = connection.prepareStatement("DELETE FROM entanglement_member_change WHERE seq = ?")) {
      for (Waiting change : stamped) {
        delete.setLong(1, change.seq());
        delete.addBatch();
      }
      delete.executeBatch();
    }
  }

  /** How many recorded changes wait, per entity type. */
  public static java.util.Map<String, Long> waitingByEntity(Connection connection) throws SQLException {
    java.util.Map<String, Long> counts = new java.util.TreeMap<>();
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT entity_name, COUNT(*) FROM entanglement_member_change GROUP BY entity_name");
        ResultSet rows = select.executeQuery()) {
      while (rows.next()) {
        counts.put(rows.getString(1), rows.getLong(2));
      }
    }
    return counts;
  }
}
