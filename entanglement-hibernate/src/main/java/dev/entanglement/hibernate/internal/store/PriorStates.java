package dev.entanglement.hibernate.internal.store;

import java.util.Set;
import java.util.HashSet;
import java.util.ArrayList;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;

/**
 * The states objects had before a change, table {@code entanglement_prior_state}: what a peer
 * that was away may still hold, so that catch-up can tell whether a state now denied to it was
 * allowed before (it then gets a withdrawal) or not (it hears nothing of the object). Keyed by the
 * owner and the serial of the change that replaced the state; written in the transaction of that
 * change's bookkeeping rows; removed with tombstone compaction. See docs/design/withdrawal.md.
 *
 * <p>The serial of a row is the column (moved with the owner's serials, as the change log's).
 *
 * <h2>Concurrency</h2>
 * Stateless and thread-safe; works on a connection the caller owns, inside its transaction.
 */
public final class PriorStates {

  /**
   * One prior state: {@code state} is the encoded {@code Change} (an UPSERT) the change at
   * {@code serial} replaced; {@code withdrawn} when that change was a withdrawal applied here.
   */
  public record Entry(String owner, long serial, String entity, String id, byte[] state, boolean withdrawn) {}

  private final String upsert;

  PriorStates(Vendor vendor) {
    // a relay can apply the same serial twice (a swept object restored): the later write wins
    this.upsert = vendor.upsert("entanglement_prior_state", List.of("owner_node", "serial"),
        List.of("entity_name", "object_id", "state_data", "withdrawn"));
  }

  /** Writes the entries with one batched statement. */
  public void write(Connection connection, List<Entry> entries) throws SQLException {
    if (entries.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement(upsert)) {
      for (Entry entry : entries) {
        statement.setString(1, entry.owner());
        statement.setLong(2, entry.serial());
        statement.setString(3, entry.entity());
        statement.setString(4, entry.id());
        statement.setBytes(5, entry.state());
        statement.setBoolean(6, entry.withdrawn());
        if (entries.size() == 1) {
          statement.executeUpdate();
          return;
        }
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  /**
   * The states the changes of the object in {@code (after, through]} replaced, in serial order: the
   * first is what a peer holding the owner's objects through {@code after} holds of it; the others
   * are states it was sent later and may hold too (a peer applies beyond its position). Empty
   * when none is kept (the object was created after {@code after}, or nothing was recorded). At
   * most {@code limit}.
   */
  public List<Entry> between(Connection connection, String owner, String entity, String id, long after, long through,
      int limit) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT serial, state_data, withdrawn FROM entanglement_prior_state WHERE entity_name = ? AND object_id = ? "
            + "AND owner_node = ? AND serial > ? AND serial <= ? ORDER BY serial LIMIT ?")) {
      statement.setString(1, entity);
      statement.setString(2, id);
      statement.setString(3, owner);
      statement.setLong(4, after);
      statement.setLong(5, through);
      statement.setInt(6, limit);
      List<Entry> entries = new ArrayList<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          entries.add(new Entry(owner, rs.getLong(1), entity, id, rs.getBytes(2), rs.getBoolean(3)));
        }
      }
      return entries;
    }
  }

  /**
   * The serials in {@code (after, through]} at which this node applied a withdrawal of one of the
   * owner's objects: its tombstones there are withdrawals, not deletions (one query per catch-up chunk).
   */
  public Set<Long> withdrawnBetween(Connection connection, String owner, long after, long through)
      throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT serial FROM entanglement_prior_state WHERE owner_node = ? AND withdrawn = TRUE AND serial > ? "
            + "AND serial <= ?")) {
      statement.setString(1, owner);
      statement.setLong(2, after);
      statement.setLong(3, through);
      Set<Long> serials = new HashSet<>();
      try (ResultSet rs = statement.executeQuery()) {
        while (rs.next()) {
          serials.add(rs.getLong(1));
        }
      }
      return serials;
    }
  }

  /** Removes the owner's prior states up to a serial (every known peer holds what came after). */
  public int prune(Connection connection, String owner, long through) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "DELETE FROM entanglement_prior_state WHERE owner_node = ? AND serial <= ?")) {
      statement.setString(1, owner);
      statement.setLong(2, through);
      return statement.executeUpdate();
    }
  }

  /** Moves the owner's serials up by {@code offset}, through negative values (see {@link ChangeLog}). */
  void shift(Connection connection, String owner, long offset) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "UPDATE entanglement_prior_state SET serial = -(serial + ?) WHERE owner_node = ?")) {
      statement.setLong(1, offset);
      statement.setString(2, owner);
      statement.executeUpdate();
    }
    try (PreparedStatement statement = connection.prepareStatement(
        "UPDATE entanglement_prior_state SET serial = -serial WHERE owner_node = ? AND serial < 0")) {
      statement.setString(1, owner);
      statement.executeUpdate();
    }
  }

  /** Forgets an owner's prior states (removed by an operator). */
  void forgetOwner(Connection connection, String owner) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "DELETE FROM entanglement_prior_state WHERE owner_node = ?")) {
      statement.setString(1, owner);
      statement.executeUpdate();
    }
  }
}
