package dev.entanglement.hibernate.internal.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import org.hibernate.engine.spi.SessionFactoryImplementor;

/**
 * The owners removed by an operator, kept in {@code entanglement_removed_owner} so that a removal
 * outlives a restart and reaches peers that were offline when it happened. Stateless beyond the
 * factory; each call runs in a short transaction of its own.
 */
public final class RemovedOwners {
  private final SessionFactoryImplementor factory;

  public RemovedOwners(SessionFactoryImplementor factory) {
    this.factory = factory;
  }

  /** Owner -> the node where it was removed. */
  public Map<String, String> load() {
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      return session.doReturningWork(RemovedOwners::read);
    }
  }

  private static Map<String, String> read(Connection connection) throws SQLException {
    Map<String, String> removed = new HashMap<>();
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT owner_node, removed_by FROM entanglement_removed_owner");
        ResultSet rows = select.executeQuery()) {
      while (rows.next()) {
        removed.put(rows.getString(1), rows.getString(2));
      }
    }
    return removed;
  }

  /** Records a removal durably (a second record of the same owner is ignored). Throws on failure. */
  public void record(String owner, String removedBy) {
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      session.beginTransaction();
      session.doWork(connection -> {
        if (read(connection).containsKey(owner)) {
          return;
        }
        try (PreparedStatement insert = connection.prepareStatement(
            "INSERT INTO entanglement_removed_owner (owner_node, removed_by) VALUES (?, ?)")) {
          insert.setString(1, owner);
          insert.setString(2, removedBy);
          insert.executeUpdate();
        }
      });
      session.getTransaction().commit();
    }
  }
}
