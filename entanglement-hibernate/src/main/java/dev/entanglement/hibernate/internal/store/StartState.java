package dev.entanglement.hibernate.internal.store;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import org.hibernate.engine.jdbc.connections.spi.ConnectionProvider;

/**
 * What a node reads of its tables before anything runs: its last serial, how far its tombstones
 * (and the relayed owners' tombstones) are compacted, its peers' positions of every owner and
 * when each peer was last seen, the ownership of every object it holds, and whether its
 * database keeps commits durably ({@link Durability}). Migrates (or
 * verifies) the schema and claims the node's name first. Immutable.
 */
public record StartState(long lastSerial, long lastCommittedSerial, long compactedThrough, Map<String, Long> relayedCompactions,
    Map<String, Map<String, Long>> peerPositions, Map<String, Long> peersLastSeen,
    List<Bookkeeping.ObjectRow> ownershipRows, String durabilityProblem) {

  /** Creates or upgrades the plugin's tables, or (when the application migrates them) checks they exist. */
  public static void prepareSchema(ConnectionProvider connections, boolean migrateSchema, Vendor vendor) {
    if (migrateSchema) {
      SchemaMigrator.migrate(connections, vendor);
      return;
    }
    try {
      Connection connection = connections.getConnection();
      try {
        SchemaMigrator.verify(connection, vendor);
      } finally {
        connections.closeConnection(connection);
      }
    } catch (SQLException e) {
      throw new EntanglementConfigurationException(
          "Entanglement could not check its tables at start: " + e.getMessage(), e);
    }
  }

  /**
   * Reads the start state in one connection (after {@link #prepareSchema} and once this instance
   * holds the node's lease); fails the boot with the database's message.
   */
  public static StartState read(ConnectionProvider connections, Bookkeeping bookkeeping, String node) {
    try {
      Connection connection = connections.getConnection();
      try {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(true);
        try {
          Bookkeeping.claimNode(connection, node);
          return new StartState(Bookkeeping.lastSerial(connection, node), Bookkeeping.lastCommittedSerial(connection, node),
              Bookkeeping.compactedThrough(connection, node),
              Bookkeeping.relayedCompactions(connection), Bookkeeping.allPeerPositions(connection),
              Bookkeeping.peersLastSeen(connection), bookkeeping.ownershipRows(connection, node),
              Durability.problem(connection));
        } finally {
          connection.setAutoCommit(autoCommit);
        }
      } finally {
        connections.closeConnection(connection);
      }
    } catch (SQLException e) {
      throw new EntanglementConfigurationException(
          "Entanglement could not read its tables at start: " + e.getMessage(), e);
    }
  }
}
