package dev.entanglement.hibernate.internal.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The ordered sequence of changes of "send every change" types ({@code @Entangled(coalesce =
 * false)}), table {@code entanglement_change_log}: one row per committed change, keyed by owner
 * and serial, holding the encoded change. Capture appends in the transaction that writes the
 * objects' bookkeeping rows; catch-up reads it in serial order, in chunks; housekeeping removes
 * what every known peer has acknowledged. Works on a connection the caller owns, inside the
 * caller's transaction.
 *
 * <p>The serial of a row is the column, not the one inside {@code change_data}: moving an owner's
 * serials ({@link Bookkeeping#shiftSerials}) moves the column, and readers set the change's serial
 * from it.
 *
 * <h2>Concurrency</h2>
 * Stateless and thread-safe.
 */
public final class ChangeLog {

  /** One logged change: the encoded wire form ({@code dev.entanglement.proto.v1.Change}). */
  public record Entry(String owner, long serial, String entity, String id, byte[] change) {}

  ChangeLog() {}

  /** Appends the entries with one batched statement. */
  public void append(Connection connection, List<Entry> entries) throws SQLException {
    if (entries.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement("INSERT INTO entanglement_change_log "
        + "(owner_node, serial, entity_name, object_id, change_data) VALUES (?, ?, ?, ?, ?)")) {
      for (Entry entry : entries) {
        statement.setString(1, entry.owner());
        statement.setLong(2, entry.serial());
        statement.setString(3, entry.entity());
        statement.setString(4, entry.id());
        statement.setBytes(5, entry.change());
        if (entries.size() == 1) {
          statement.executeUpdate();
          return;
        }
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  /** The owner's logged changes with a serial above {@code after}, in serial order, at most {@code limit}. */
  public List<Entry> after(Connection connection, String owner, long after, int limit) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT serial, entity_name, object_id, change_data FROM entanglement_change_log "
            + "WHERE owner_node = ? AND serial > ? ORDER BY serial LIMIT ?")) {
      statement.setString(1, owner);
      statement.setLong(2, after);
      statement.setInt(3, limit);
      List<Entry> entries = new ArrayList<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          entries.add(new Entry(owner, rs.getLong(1), rs.getString(2), rs.getString(3), rs.getBytes(4)));
        }
      }
      return entries;
    }
  }

  /** Removes the owner's changes up to a serial (every known peer holds them). Returns how many. */
  public int prune(Connection connection, String owner, long through) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "DELETE FROM entanglement_change_log WHERE owner_node = ? AND serial <= ?")) {
      statement.setString(1, owner);
      statement.setLong(2, through);
      return statement.executeUpdate();
    }
  }

  /**
   * Moves the serials of the owner's changes up by {@code offset}, keeping their order. In two
   * steps through negative serials: PostgreSQL checks the primary key row by row, and a shift
   * smaller than the span of serials would collide on the way.
   */
  int shift(Connection connection, String owner, long offset) throws SQLException {
    int moved;
    try (PreparedStatement statement = connection.prepareStatement(
        "UPDATE entanglement_change_log SET serial = -(serial + ?) WHERE owner_node = ?")) {
      statement.setLong(1, offset);
      statement.setString(2, owner);
      moved = statement.executeUpdate();
    }
    try (PreparedStatement statement = connection.prepareStatement(
        "UPDATE entanglement_change_log SET serial = -serial WHERE owner_node = ? AND serial < 0")) {
      statement.setString(1, owner);
      statement.executeUpdate();
    }
    return moved;
  }

  /** Forgets every change of an owner (removed by an operator). */
  void forgetOwner(Connection connection, String owner) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "DELETE FROM entanglement_change_log WHERE owner_node = ?")) {
      statement.setString(1, owner);
      statement.executeUpdate();
    }
  }

  /** How many changes the log holds (all owners). */
  public long size(Connection connection) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement("SELECT COUNT(*) FROM entanglement_change_log");
        ResultSet rs = statement.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
