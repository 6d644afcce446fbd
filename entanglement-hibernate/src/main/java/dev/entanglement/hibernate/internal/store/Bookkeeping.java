package dev.entanglement.hibernate.internal.store;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import org.hibernate.dialect.Dialect;
import org.hibernate.dialect.H2Dialect;
import org.hibernate.dialect.PostgreSQLDialect;

/**
 * Reads and writes the plugin's bookkeeping rows (per-object owner, serial and tombstone, node
 * identity) on a connection the caller owns, inside the caller's transaction. Stateless and
 * thread-safe: the SQL differs only by database.
 */
public final class Bookkeeping {

  /** One object's bookkeeping row. */
  public record ObjectRow(String entity, String id, String owner, long serial, boolean deleted) {}

  private static final String SELECT_OBJECT =
      "SELECT owner_node, serial, deleted FROM entanglement_object WHERE entity_name = ? AND object_id = ?";

  private final String upsertObject;

  private Bookkeeping(String upsertObject) {
    this.upsertObject = upsertObject;
  }

  /**
   * @throws EntanglementConfigurationException for a database the plugin does not support
   */
  public static Bookkeeping forDialect(Dialect dialect) {
    if (dialect instanceof H2Dialect) {
      return new Bookkeeping("MERGE INTO entanglement_object "
          + "(entity_name, object_id, owner_node, serial, deleted) KEY (entity_name, object_id) "
          + "VALUES (?, ?, ?, ?, ?)");
    }
    if (dialect instanceof PostgreSQLDialect) {
      return new Bookkeeping("INSERT INTO entanglement_object "
          + "(entity_name, object_id, owner_node, serial, deleted) VALUES (?, ?, ?, ?, ?) "
          + "ON CONFLICT (entity_name, object_id) DO UPDATE SET owner_node = EXCLUDED.owner_node, "
          + "serial = EXCLUDED.serial, deleted = EXCLUDED.deleted");
    }
    throw new EntanglementConfigurationException(("the database dialect %s is not supported by "
        + "Entanglement; supported: H2 (H2Dialect) and PostgreSQL (PostgreSQLDialect)")
        .formatted(dialect.getClass().getName()));
  }

  /** Writes the rows with one batched statement. */
  public void write(Connection connection, List<ObjectRow> rows) throws SQLException {
    if (rows.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement(upsertObject)) {
      if (rows.size() == 1) {
        bind(statement, rows.get(0));
        statement.executeUpdate();
        return;
      }
      for (ObjectRow row : rows) {
        bind(statement, row);
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  private static void bind(PreparedStatement statement, ObjectRow row) throws SQLException {
    statement.setString(1, row.entity());
    statement.setString(2, row.id());
    statement.setString(3, row.owner());
    statement.setLong(4, row.serial());
    statement.setBoolean(5, row.deleted());
  }

  /** The object's row, or null when this node has never had it. */
  public ObjectRow read(Connection connection, String entity, String id) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(SELECT_OBJECT)) {
      statement.setString(1, entity);
      statement.setString(2, id);
      try (ResultSet rs = statement.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        return new ObjectRow(entity, id, rs.getString(1), rs.getLong(2), rs.getBoolean(3));
      }
    }
  }

  /**
   * Records this database's node name on first start, and refuses a database that belongs to a
   * node of another name (its objects' ownership would be wrong).
   */
  public static void claimNode(Connection connection, String nodeName) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement("SELECT node_name FROM entanglement_node");
        ResultSet rs = select.executeQuery()) {
      if (rs.next()) {
        String existing = rs.getString(1);
        if (!existing.equals(nodeName)) {
          throw new EntanglementConfigurationException(("Setting entanglement.node.name is '%s', "
              + "but this database belongs to node '%s' (table entanglement_node): a database "
              + "keeps one node identity. Use '%s', or a fresh database").formatted(
                  nodeName, existing, existing));
        }
        return;
      }
    }
    try (PreparedStatement insert = connection.prepareStatement(
        "INSERT INTO entanglement_node (node_name, created_at) VALUES (?, ?)")) {
      insert.setString(1, nodeName);
      insert.setTimestamp(2, Timestamp.from(Instant.now()));
      insert.executeUpdate();
    }
  }

  /** The highest serial this node has given to its own objects. */
  public static long lastSerial(Connection connection, String nodeName) throws SQLException {
    try (PreparedStatement statement = connection.prepareStatement(
        "SELECT MAX(serial) FROM entanglement_object WHERE owner_node = ?")) {
      statement.setString(1, nodeName);
      try (ResultSet rs = statement.executeQuery()) {
        return rs.next() ? rs.getLong(1) : 0L;
      }
    }
  }
}
