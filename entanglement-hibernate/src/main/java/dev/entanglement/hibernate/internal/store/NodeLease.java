package dev.entanglement.hibernate.internal.store;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.EntanglementSettings;
import java.net.InetAddress;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.hibernate.engine.jdbc.connections.spi.ConnectionProvider;
import org.jboss.logging.Logger;

/**
 * The lease by which one application instance (a member) serves a node on its database (table
 * {@code entanglement_lease}, one row per node name). Two instances of one node writing at once
 * would hand out the same serials and lose changes at the peers without a word, so until several
 * members are supported a second instance fails its boot, naming the first. The holder renews the
 * lease every fifth of the timeout; its renewal count and heartbeat are in the database's own
 * time, so members on hosts with skewed clocks agree. An instance that starts after a crash of the
 * previous one (SIGKILL: nothing released the row) takes over once the row has not been renewed
 * for two renewal intervals, raising the fencing token, so a holder that was only paused finds
 * its lease gone at its next renewal and stops serving.
 *
 * <h2>Concurrency</h2>
 * {@code token} is written once at boot; {@code lostTo} by the renewals on the node's scheduler,
 * read by committing threads: volatile.
 */
public final class NodeLease {
  private static final Logger LOG = Logger.getLogger(NodeLease.class);

  private final ConnectionProvider connections;
  private final String node;
  private final String memberId = UUID.randomUUID().toString();
  private final String host = hostName();
  private final Duration timeout;
  private volatile long token;
  private volatile Instant since;
  private volatile String lostTo;

  private NodeLease(ConnectionProvider connections, String node, Duration timeout) {
    this.connections = connections;
    this.node = node;
    this.timeout = timeout;
  }

  /** How often the holder renews the lease. */
  public static Duration renewInterval(Duration timeout) {
    return timeout.dividedBy(5);
  }

  /**
   * Takes the node's lease for this instance: at once if no instance holds it or its holder is
   * silent past the timeout; after watching it for two renewal intervals if the holder may have
   * crashed; never while the holder renews it (the boot fails, naming it).
   */
  public static NodeLease acquire(ConnectionProvider connections, String node, Duration timeout) {
    NodeLease lease = new NodeLease(connections, node, timeout);
    try {
      lease.take();
    } catch (SQLException e) {
      throw new EntanglementConfigurationException("Entanglement could not take node '%s''s lease (table "
          .formatted(node) + "entanglement_lease): " + e.getMessage(), e);
    }
    return lease;
  }

  private record Holder(String member, String host, long token, long renewals, Timestamp acquired, long silentMillis) {}

  private void take() throws SQLException {
    Duration watch = renewInterval(timeout).multipliedBy(2).plusMillis(50);
    Holder watched = null;
    for (int attempt = 0; attempt < 50; attempt++) {
      Holder holder = read();
      if (holder == null) {
        if (insert()) {
          token = 1;
          since = Instant.now();
          return;
        }
        continue; // another instance inserted it meanwhile: look again
      }
      boolean silent = holder.silentMillis() >= timeout.toMillis()
          || (watched != null && watched.member().equals(holder.member()) && watched.renewals() == holder.renewals());
      if (silent) {
        if (takeOver(holder)) {
          token = holder.token() + 1;
          since = Instant.now();
          LOG.infof("Entanglement node '%s': this instance (member %s) took the node over from member %s on host '%s', "
              + "which had not renewed its lease for %d ms or more", node, memberId, holder.member(), holder.host(),
              Math.max(holder.silentMillis(), watch.toMillis()));
          return;
        }
        watched = null;
        continue;
      }
      if (watched != null) {
        throw new EntanglementConfigurationException(("Entanglement node '%s' is already served by another application "
            + "instance on this database: member %s on host '%s', since %s, which renewed its lease while this one "
            + "waited. Several instances of one node at once are not supported yet (they would hand out the same "
            + "serials and peers would miss changes): stop the other instance, or give this one its own "
            + "entanglement.node.name and database. The lease of an instance that crashed is taken over once it has not "
            + "been renewed for %d ms (%s)").formatted(node, holder.member(), holder.host(), holder.acquired().toInstant(),
            watch.toMillis(), EntanglementSettings.NODE_LEASE_TIMEOUT_MS));
      }
      watched = holder;
      try {
        Thread.sleep(watch.toMillis()); // boot waits to see whether the holder is alive
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new EntanglementConfigurationException("interrupted while taking node '%s''s lease".formatted(node), e);
      }
    }
    throw new EntanglementConfigurationException("Entanglement could not take node '%s''s lease: other instances kept "
        .formatted(node) + "taking it over");
  }

  private Holder read() throws SQLException {
    return inConnection(c -> {
      try (PreparedStatement select = c.prepareStatement("SELECT member_id, member_host, token, renewals, acquired_at, "
          + "heartbeat_at, CURRENT_TIMESTAMP FROM entanglement_lease WHERE node_name = ?")) {
        select.setString(1, node);
        try (ResultSet rows = select.executeQuery()) {
          if (!rows.next()) {
            return null;
          }
          long silent = rows.getTimestamp(7).getTime() - rows.getTimestamp(6).getTime();
          return new Holder(rows.getString(1), rows.getString(2), rows.getLong(3), rows.getLong(4), rows.getTimestamp(5),
              silent);
        }
      }
    });
  }

  private boolean insert() throws SQLException {
    try {
      return inConnection(c -> {
        try (PreparedStatement insert = c.prepareStatement("INSERT INTO entanglement_lease (node_name, member_id, "
            + "member_host, token, renewals, acquired_at, heartbeat_at) VALUES (?, ?, ?, 1, 0, CURRENT_TIMESTAMP, "
            + "CURRENT_TIMESTAMP)")) {
          insert.setString(1, node);
          insert.setString(2, memberId);
          insert.setString(3, host);
          return insert.executeUpdate() == 1;
        }
      });
    } catch (SQLException e) {
      if (SqlErrors.isUniqueViolation(e)) {
        return false;
      }
      throw e;
    }
  }

  /** Takes the row over if it is still as read (no renewal, no other take-over meanwhile). */
  private boolean takeOver(Holder holder) throws SQLException {
    return inConnection(c -> {
      try (PreparedStatement update = c.prepareStatement("UPDATE entanglement_lease SET member_id = ?, member_host = ?, "
          + "token = token + 1, renewals = 0, acquired_at = CURRENT_TIMESTAMP, heartbeat_at = CURRENT_TIMESTAMP "
          + "WHERE node_name = ? AND member_id = ? AND token = ? AND renewals = ?")) {
        update.setString(1, memberId);
        update.setString(2, host);
        update.setString(3, node);
        update.setString(4, holder.member());
        update.setLong(5, holder.token());
        update.setLong(6, holder.renewals());
        return update.executeUpdate() == 1;
      }
    });
  }

  /**
   * Renews the lease (on the node's scheduler). Returns false once another instance took the
   * node over: this one must stop serving. A database failure is logged and tried again at the
   * next renewal.
   */
  public boolean renew() {
    if (lostTo != null) {
      return false;
    }
    try {
      int renewed = inConnection(c -> {
        try (PreparedStatement update = c.prepareStatement("UPDATE entanglement_lease SET renewals = renewals + 1, "
            + "heartbeat_at = CURRENT_TIMESTAMP WHERE node_name = ? AND member_id = ? AND token = ?")) {
          update.setString(1, node);
          update.setString(2, memberId);
          update.setLong(3, token);
          return update.executeUpdate();
        }
      });
      if (renewed == 0) {
        Holder now = read();
        lostTo = now == null ? "nobody (the row was deleted)" : "member %s on host '%s'".formatted(now.member(), now.host());
        LOG.errorf("Entanglement node '%s': this instance (member %s) lost the node's lease to %s, as it had not renewed "
            + "it in time (a long pause?); it stops serving the node: commits of entangled entities fail from now on. "
            + "Restart it once the other instance is stopped", node, memberId, lostTo);
        return false;
      }
      return true;
    } catch (SQLException | RuntimeException e) {
      LOG.warnf("Entanglement node '%s' could not renew its lease (tried again in %d ms): %s", node,
          renewInterval(timeout).toMillis(), e.getMessage());
      return true;
    }
  }

  /** Null while this instance serves the node; otherwise who took it over. */
  public String lostTo() {
    return lostTo;
  }

  public String memberId() {
    return memberId;
  }

  /** The host name and process id of this instance. */
  public String host() {
    return host;
  }

  /** The fencing token of this instance's hold. */
  public long token() {
    return token;
  }

  /** When this instance took the lease (its own clock). */
  public Instant since() {
    return since;
  }

  /** Gives the lease up at a clean stop, so that the next instance starts at once. */
  public void release() {
    if (lostTo != null) {
      return;
    }
    try {
      inConnection(c -> {
        try (PreparedStatement delete = c.prepareStatement(
            "DELETE FROM entanglement_lease WHERE node_name = ? AND member_id = ? AND token = ?")) {
          delete.setString(1, node);
          delete.setString(2, memberId);
          delete.setLong(3, token);
          return delete.executeUpdate();
        }
      });
    } catch (SQLException | RuntimeException e) {
      LOG.warnf("Entanglement node '%s' could not release its lease (the next instance takes it over in %d ms): %s",
          node, renewInterval(timeout).multipliedBy(2).toMillis(), e.getMessage());
    }
  }

  private interface Work<T> {
    T run(Connection connection) throws SQLException;
  }

  private <T> T inConnection(Work<T> work) throws SQLException {
    Connection connection = connections.getConnection();
    try {
      boolean autoCommit = connection.getAutoCommit();
      connection.setAutoCommit(true);
      try {
        return work.run(connection);
      } finally {
        connection.setAutoCommit(autoCommit);
      }
    } finally {
      connections.closeConnection(connection);
    }
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName() + " (pid " + ProcessHandle.current().pid() + ")";
    } catch (Exception e) {
      return "unknown host (pid " + ProcessHandle.current().pid() + ")";
    }
  }
}
