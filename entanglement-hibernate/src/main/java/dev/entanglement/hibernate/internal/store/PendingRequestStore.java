package dev.entanglement.hibernate.internal.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.hibernate.engine.spi.SessionFactoryImplementor;

/**
 * The tables of durable update requests: this node's unsettled requests
 * ({@code entanglement_pending_request}) and, at the owner, the requests it applied
 * ({@code entanglement_applied_request}, for idempotent retry). Methods taking a
 * {@link Connection} run in the caller's transaction; the others in a short transaction of their
 * own.
 *
 * <h2>Concurrency</h2>
 * Stateless and thread-safe.
 */
public final class PendingRequestStore {
  /** Longest last-error text kept (the column's width). */
  private static final int MAX_ERROR = 1000;

  /** One unsettled request of this node, as stored. */
  /**
   * @param member the member (not holding the links) that stored the request and waits for its
   *     outcome, or null
   */
  public record Row(String requestKey, String entity, String idText, String owner, String kind, byte[] request,
      Instant created, Instant expires, int attempts, boolean sent, String lastError, String member) {}

  /** The outcome of a follower's request: {@code failure} is null when it was applied. */
  public record Outcome(String requestKey, String owner, String failure, String reason, String message) {}

  private final SessionFactoryImplementor factory;

  public PendingRequestStore(SessionFactoryImplementor factory) {
    this.factory = factory;
  }

  /** Writes new requests in the caller's transaction (one batched statement). */
  public static void insert(Connection connection, List<Row> rows) throws SQLException {
    insert(connection, rows, null, false);
  }

  /**
   * Inserts new requests: {@code forHolder} when a member that does not hold the node's links
   * stored them (the holder takes such rows over, {@link #takeOverFromMembers}); {@code memberId}
   * names the member whose futures wait for their outcomes, or null (nobody waits: no outcome row).
   */
  public static void insert(Connection connection, List<Row> rows, String memberId, boolean forHolder)
      throws SQLException {
    if (rows.isEmpty()) {
      return;
    }
    try (PreparedStatement statement = connection.prepareStatement("insert into entanglement_pending_request "
        + "(request_key, entity_name, object_id, owner_node, kind, request_data, created_ms, expires_ms, attempts, "
        + "sent, last_error, member_id, for_holder) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      for (Row row : rows) {
        statement.setString(1, row.requestKey());
        statement.setString(2, row.entity());
        statement.setString(3, row.idText());
        statement.setString(4, row.owner());
        statement.setString(5, row.kind());
        statement.setBytes(6, row.request());
        statement.setLong(7, row.created().toEpochMilli());
        statement.setLong(8, row.expires().toEpochMilli());
        statement.setInt(9, row.attempts());
        statement.setBoolean(10, row.sent());
        setError(statement, 11, row.lastError());
        statement.setString(12, memberId);
        statement.setBoolean(13, forHolder);
        statement.addBatch();
      }
      statement.executeBatch();
    }
  }

  /**
   * Records that a request is being sent (again): its encoded form (requests merged into it are
   * part of it now, and their rows go), its attempts, and that it was sent.
   */
  public void sending(String requestKey, byte[] request, int attempts, List<String> absorbed) {
    inTransaction(connection -> {
      try (PreparedStatement update = connection.prepareStatement("update entanglement_pending_request "
          + "set request_data = ?, attempts = ?, sent = ? where request_key = ?")) {
        update.setBytes(1, request);
        update.setInt(2, attempts);
        update.setBoolean(3, true);
        update.setString(4, requestKey);
        update.executeUpdate();
      }
      delete(connection, absorbed);
    });
  }

  /** Records why the last attempt did not settle a request. */
  public void failedAttempt(String requestKey, String error) {
    inTransaction(connection -> {
      try (PreparedStatement update = connection.prepareStatement(
          "update entanglement_pending_request set last_error = ? where request_key = ?")) {
        setError(update, 1, error);
        update.setString(2, requestKey);
        update.executeUpdate();
      }
    });
  }

  /** Removes settled requests. */
  public void settled(List<String> requestKeys) {
    if (!requestKeys.isEmpty()) {
      inTransaction(connection -> delete(connection, requestKeys));
    }
  }

  /** The columns every read selects, in {@link #row}'s order. */
  private static final String COLUMNS = "request_key, entity_name, object_id, owner_node, kind, request_data, "
      + "created_ms, expires_ms, attempts, sent, last_error, member_id";

  private static Row row(ResultSet rs) throws SQLException {
    return new Row(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
        rs.getBytes(6), Instant.ofEpochMilli(rs.getLong(7)), Instant.ofEpochMilli(rs.getLong(8)), rs.getInt(9),
        rs.getBoolean(10), rs.getString(11), rs.getString(12));
  }

  /** Every unsettled request, oldest first (the order they were made in). */
  public List<Row> loadAll() {
    List<Row> rows = new ArrayList<>();
    inTransaction(connection -> {
      try (PreparedStatement select = connection.prepareStatement("select " + COLUMNS
          + " from entanglement_pending_request order by created_ms, request_key");
          ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          rows.add(row(rs));
        }
      }
    });
    return rows;
  }

  /**
   * Takes over the requests other members of this node wrote (they hold no links): returns them,
   * oldest first, and marks them as the holder's, in one transaction. At most {@code limit}.
   */
  public List<Row> takeOverFromMembers(int limit) {
    List<Row> rows = new ArrayList<>();
    inTransaction(connection -> {
      try (PreparedStatement select = connection.prepareStatement("select " + COLUMNS
          + " from entanglement_pending_request where for_holder = TRUE order by created_ms, request_key limit ?")) {
        select.setInt(1, limit);
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            rows.add(row(rs));
          }
        }
      }
      try (PreparedStatement update = connection.prepareStatement(
          "update entanglement_pending_request set for_holder = FALSE where request_key = ?")) {
        for (Row row : rows) {
          update.setString(1, row.requestKey());
          update.addBatch();
        }
        if (!rows.isEmpty()) {
          update.executeBatch();
        }
      }
    });
    return rows;
  }

  /** Records the outcome of requests a follower stored, for its futures (kept until it reads them). */
  public void recordOutcomes(String member, List<String> requestKeys, Outcome outcome) {
    inTransaction(connection -> {
      try (PreparedStatement delete = connection.prepareStatement(
          "delete from entanglement_request_outcome where request_key = ?");
          PreparedStatement insert = connection.prepareStatement("insert into entanglement_request_outcome "
              + "(request_key, member_id, owner_node, failure, reason, message, created_at) "
              + "values (?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP)")) {
        for (String key : requestKeys) {
          delete.setString(1, key); // a request settled twice (sent again after a restart) keeps its last outcome
          delete.addBatch();
          insert.setString(1, key);
          insert.setString(2, member);
          insert.setString(3, outcome.owner());
          insert.setString(4, outcome.failure());
          insert.setString(5, outcome.reason());
          String message = outcome.message();
          insert.setString(6, message == null || message.length() <= 4000 ? message : message.substring(0, 4000));
          insert.addBatch();
        }
        delete.executeBatch();
        insert.executeBatch();
      }
    });
  }

  /** The outcomes waiting for a member, removed as they are read. */
  public List<Outcome> takeOutcomes(String member) {
    List<Outcome> outcomes = new ArrayList<>();
    inTransaction(connection -> {
      try (PreparedStatement select = connection.prepareStatement("select request_key, owner_node, failure, reason, "
          + "message from entanglement_request_outcome where member_id = ?")) {
        select.setString(1, member);
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            outcomes.add(new Outcome(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                rs.getString(5)));
          }
        }
      }
      try (PreparedStatement delete = connection.prepareStatement(
          "delete from entanglement_request_outcome where request_key = ?")) {
        for (Outcome outcome : outcomes) {
          delete.setString(1, outcome.requestKey());
          delete.addBatch();
        }
        if (!outcomes.isEmpty()) {
          delete.executeBatch();
        }
      }
    });
    return outcomes;
  }

  /** The serial an owner gave a request it applied, or -1 (in the deciding transaction). */
  public static long appliedSerial(Connection connection, String origin, String requestKey) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement(
        "select serial from entanglement_applied_request where origin_node = ? and request_key = ?")) {
      select.setString(1, origin);
      select.setString(2, requestKey);
      try (ResultSet rs = select.executeQuery()) {
        return rs.next() ? rs.getLong(1) : -1;
      }
    }
  }

  /** Records a request the owner applied, in the transaction of its decision. */
  public static void applied(Connection connection, String origin, String requestKey, long serial, Instant at)
      throws SQLException {
    try (PreparedStatement insert = connection.prepareStatement("insert into entanglement_applied_request "
        + "(origin_node, request_key, serial, applied_ms) values (?, ?, ?, ?)")) {
      insert.setString(1, origin);
      insert.setString(2, requestKey);
      insert.setLong(3, serial);
      insert.setLong(4, at.toEpochMilli());
      insert.executeUpdate();
    }
  }

  /** Forgets applied requests recorded before {@code before} (housekeeping); returns how many. */
  public int forgetAppliedBefore(Instant before) {
    int[] removed = {0};
    inTransaction(connection -> {
      try (PreparedStatement delete = connection.prepareStatement(
          "delete from entanglement_applied_request where applied_ms < ?")) {
        delete.setLong(1, before.toEpochMilli());
        removed[0] = delete.executeUpdate();
      }
    });
    return removed[0];
  }

  private static void delete(Connection connection, List<String> requestKeys) throws SQLException {
    if (requestKeys.isEmpty()) {
      return;
    }
    try (PreparedStatement delete = connection.prepareStatement(
        "delete from entanglement_pending_request where request_key = ?")) {
      for (String key : requestKeys) {
        delete.setString(1, key);
        delete.addBatch();
      }
      delete.executeBatch();
    }
  }

  private static void setError(PreparedStatement statement, int index, String error) throws SQLException {
    if (error == null) {
      statement.setNull(index, Types.VARCHAR);
    } else {
      statement.setString(index, error.length() > MAX_ERROR ? error.substring(0, MAX_ERROR) : error);
    }
  }

  private interface Work {
    void run(Connection connection) throws SQLException;
  }

  private void inTransaction(Work work) {
    try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
      session.beginTransaction();
      try {
        session.doWork(work::run);
        session.getTransaction().commit();
      } catch (RuntimeException e) {
        if (session.getTransaction().isActive()) {
          session.getTransaction().rollback();
        }
        throw e;
      }
    }
  }
}
