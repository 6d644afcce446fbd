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
import java.util.ArrayList;
import java.util.Calendar;
import java.util.List;
import java.util.TimeZone;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.hibernate.engine.jdbc.connections.spi.ConnectionProvider;
import org.jboss.logging.Logger;

/**
 * The node's members and its lease. Every application instance serving a node on its database
 * is a member with a row in {@code entanglement_member} and a heartbeat. One member holds the
 * node's lease ({@code entanglement_lease}, one row per node name) and with it the node's links:
 * peers, serials, and the stamping of what the other members commit. The holder renews the lease
 * every fifth of the timeout; renewals and heartbeats are in the database's own time, so members
 * on hosts with skewed clocks agree. When the holder stops cleanly it deletes the row and another
 * member takes the lease at its next heartbeat; when it crashed (SIGKILL: nothing released the
 * row), a member takes the lease over once the row has not been renewed for the timeout, in the
 * database's time, raising the fencing token; a holder that could not renew for 90% of the
 * timeout has stopped committing by then ({@link #fenced}), so a holder that was only paused finds its lease gone at its next renewal
 * and stops serving.
 *
 * <h2>Concurrency</h2>
 * Called from the node's lease thread (join, take, tick) and once at stop;
 * {@code holding}, {@code token}, {@code since} and {@code lostTo} are read by committing and
 * admin threads: volatile.
 */
public final class NodeLease {
  private static final Logger LOG = Logger.getLogger(NodeLease.class);

  private final ConnectionProvider connections;
  /** The lease's own connection permit: renewals never wait behind the node's other work. */
  private final ConnectionBudget budget;
  private final String node;
  private final String memberId = UUID.randomUUID().toString();
  private final String host = hostName();
  private final Duration timeout;
  /** The database's clock in SQL ({@link Vendor#now}): heartbeats and silences are in its time. */
  private final String now;
  /** The zone of the lease's timestamps, or null for the JVM's (MariaDB's hold UTC, without a zone). */
  private final TimeZone zone;
  /**
   * Whether {@link #fence} locks the row with a locking read rather than an update that changes
   * nothing: MariaDB and MySQL count such an update as 0 rows when the driver reports affected
   * rows ({@code useAffectedRows=true}), which would read as a lost lease.
   */
  private final boolean lockingRead;
  private volatile long token;
  private volatile Instant since;
  private volatile String lostTo;
  private volatile boolean holding;
  private volatile boolean memberChangesWaiting;
  /**
   * When the last successful renewal (or the take) started, monotonic: a holder that has not
   * renewed for {@link #FENCE_FRACTION} of the timeout stops committing, before any member may
   * take the lease over (after the whole timeout, in the database's time).
   */
  private volatile long renewedAtNanos;
  /** The part of the timeout after which a holder that could not renew fences itself. */
  static final double FENCE_FRACTION = 0.9;
  /** When the current attempt to take the lease started (lease thread only). */
  private long takingSince;
  /**
   * After a {@link #tryTake} that found the holder silent but not yet for the timeout: how many
   * ms it still has, so that a follower looks again right then rather than at its next heartbeat
   * (lease thread only; -1 otherwise).
   */
  private long takeableInMillis = -1;

  private NodeLease(ConnectionProvider connections, ConnectionBudget budget, String node, Duration timeout,
      Vendor vendor) {
    this.connections = connections;
    this.budget = budget;
    this.node = node;
    this.timeout = timeout;
    this.now = vendor.now();
    this.zone = vendor == Vendor.MARIADB ? TimeZone.getTimeZone("UTC") : null;
    this.lockingRead = vendor == Vendor.MARIADB;
  }

  /** How often the holder renews the lease. */
  public static Duration renewInterval(Duration timeout) {
    return timeout.dividedBy(5);
  }

  /**
   * Makes this instance a member of the node and takes the lease if nobody holds it, or its
   * holder is silent past the timeout; otherwise the instance follows (see {@link #tryTake}).
   */
  public static NodeLease join(ConnectionProvider connections, ConnectionBudget budget, String node,
      Duration timeout, Vendor vendor) {
    NodeLease lease = new NodeLease(connections, budget, node, timeout, vendor);
    try {
      lease.inConnection(lease::insertMember);
      lease.tryTake();
    } catch (SQLException e) {
      throw new EntanglementConfigurationException("Entanglement could not join node '%s' (tables "
          .formatted(node) + "entanglement_member, entanglement_lease): " + e.getMessage(), e);
    }
    return lease;
  }

  private record Holder(String member, String host, long token, long renewals, Timestamp acquired, long silentMillis) {}

  /**
   * Takes the lease if nobody holds it or its holder has not renewed it for the timeout; true
   * when this member holds it now. Never takes it from a holder that renews it.
   */
  public boolean tryTake() throws SQLException {
    if (holding) {
      return true;
    }
    takingSince = System.nanoTime();
    takeableInMillis = -1;
    if (lostTo != null) {
      return false; // a member that lost the lease while serving does not come back without a restart
    }
    for (int attempt = 0; attempt < 3; attempt++) {
      Holder holder = read();
      if (holder == null) {
        if (insert()) {
          took(1);
          return true;
        }
        continue; // another member inserted it meanwhile: look again
      }
      if (holder.silentMillis() < timeout.toMillis()) {
        takeableInMillis = timeout.toMillis() - holder.silentMillis();
        return false; // never sooner: a holder that is only slow fences itself at a fraction of the timeout first
      }
      if (takeOver(holder)) {
        took(holder.token() + 1);
        LOG.infof("Entanglement node '%s': this instance (member %s) took the node's links over from member %s on "
            + "host '%s', which had not renewed its lease for %d ms", node, memberId, holder.member(), holder.host(),
            holder.silentMillis());
        return true;
      }
    }
    return false;
  }

  private void took(long newToken) {
    renewedAtNanos = takingSince;
    token = newToken;
    since = Instant.now();
    holding = true;
  }

  /**
   * After a {@link #tryTake} that returned false because the holder has not been silent for the
   * whole timeout yet: in how many ms it will have been, unless it renews meanwhile; -1 otherwise.
   */
  public long takeableInMillis() {
    return takeableInMillis;
  }

  /** Whether this member holds the node's lease (and so its links). */
  public boolean holding() {
    return holding;
  }

  /**
   * One round of the lease thread, on one connection: the holder renews the lease (and finds out
   * if another member took it: {@link #lostTo}) and counts the members' changes waiting for it;
   * every member records its heartbeat. Returns how
   * many other members are alive (heartbeat within the timeout); the holder also removes members
   * silent for ten timeouts (they crashed).
   */
  public int tick() throws SQLException {
    return inConnection(c -> {
      if (holding && lostTo == null) {
        renew(c);
      }
      try (PreparedStatement update = c.prepareStatement(
          "UPDATE entanglement_member SET heartbeat_at = " + now + " WHERE member_id = ?")) {
        update.setString(1, memberId);
        if (update.executeUpdate() == 0) {
          insertMember(c); // removed as silent (a long pause): this member is back
        }
      }
      int alive = 0;
      for (Member member : members(c)) {
        if (!member.id().equals(memberId) && member.silentMillis() < timeout.toMillis()) {
          alive++;
        } else if (holding && member.silentMillis() >= 10 * timeout.toMillis()) {
          try (PreparedStatement delete = c.prepareStatement("DELETE FROM entanglement_member WHERE member_id = ?")) {
            delete.setString(1, member.id());
            delete.executeUpdate();
          }
        }
      }
      if (holding) {
        try (PreparedStatement waiting = c.prepareStatement("SELECT COUNT(*) FROM entanglement_member_change");
            ResultSet rows = waiting.executeQuery()) {
          rows.next();
          memberChangesWaiting = rows.getLong(1) > 0;
        }
      }
      return alive;
    });
  }

  /**
   * Whether changes of members waited for their serials at the last tick (the holder's): a
   * member's commit that spanned its own take-over, or one of a member that died, must not wait
   * for another member to appear.
   */
  public boolean memberChangesWaiting() {
    return memberChangesWaiting;
  }

  /** A member of the node as the admin API shows it. */
  public record Member(String id, String host, Instant startedAt, long silentMillis, boolean holder, long token) {}

  /** The node's members, the holder first. */
  public List<Member> members() {
    try {
      return inConnection(this::members);
    } catch (SQLException e) {
      throw new IllegalStateException("could not read the members of node '%s': %s".formatted(node, e.getMessage()), e);
    }
  }

  private List<Member> members(Connection c) throws SQLException {
    Holder holder = read(c);
    List<Member> members = new ArrayList<>();
    try (PreparedStatement select = c.prepareStatement("SELECT member_id, member_host, started_at, heartbeat_at, "
        + now + " FROM entanglement_member WHERE node_name = ? ORDER BY started_at, member_id")) {
      select.setString(1, node);
      try (ResultSet rows = select.executeQuery()) {
        while (rows.next()) {
          String id = rows.getString(1);
          boolean holds = holder != null && holder.member().equals(id);
          Timestamp started = zone == null ? rows.getTimestamp(3) : rows.getTimestamp(3, Calendar.getInstance(zone));
          members.add(new Member(id, rows.getString(2), started.toInstant(),
              rows.getTimestamp(5).getTime() - rows.getTimestamp(4).getTime(), holds, holds ? holder.token() : 0));
        }
      }
    }
    members.sort(java.util.Comparator.comparing((Member m) -> !m.holder()));
    return members;
  }

  /** Who holds the node's links, for messages: "member X on host 'h'", or a sentence saying nobody does. */
  public String holderDescription() {
    try {
      Holder holder = inConnection(this::read);
      return holder == null ? "no member (the lease is free; a member takes it within %d ms)".formatted(
          renewInterval(timeout).toMillis()) : "member %s on host '%s'".formatted(holder.member(), holder.host());
    } catch (SQLException e) {
      return "unknown (the lease could not be read: " + e.getMessage() + ")";
    }
  }

  private Holder read() throws SQLException {
    return inConnection(this::read);
  }

  private Holder read(Connection c) throws SQLException {
    {
      try (PreparedStatement select = c.prepareStatement("SELECT member_id, member_host, token, renewals, acquired_at, "
          + "heartbeat_at, " + now + " FROM entanglement_lease WHERE node_name = ?")) {
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
    }
  }

  /** This member's row, started and beating now. */
  private int insertMember(Connection c) throws SQLException {
    try (PreparedStatement insert = c.prepareStatement("INSERT INTO entanglement_member (member_id, node_name, "
        + "member_host, started_at, heartbeat_at) VALUES (?, ?, ?, " + now + ", " + now + ")")) {
      insert.setString(1, memberId);
      insert.setString(2, node);
      insert.setString(3, host);
      return insert.executeUpdate();
    }
  }

  private boolean insert() throws SQLException {
    try {
      return inConnection(c -> {
        try (PreparedStatement insert = c.prepareStatement("INSERT INTO entanglement_lease (node_name, member_id, "
            + "member_host, token, renewals, acquired_at, heartbeat_at) VALUES (?, ?, ?, 1, 0, " + now + ", "
            + now + ")")) {
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
          + "token = token + 1, renewals = 0, acquired_at = " + now + ", heartbeat_at = " + now + ", "
          + "link_address = NULL, link_secret = NULL WHERE node_name = ? AND member_id = ? AND token = ? AND renewals = ?")) {
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

  private void renew(Connection c) throws SQLException {
    long started = System.nanoTime();
    try (PreparedStatement update = c.prepareStatement("UPDATE entanglement_lease SET renewals = renewals + 1, "
        + "heartbeat_at = " + now + " WHERE node_name = ? AND member_id = ? AND token = ?")) {
      update.setString(1, node);
      update.setString(2, memberId);
      update.setLong(3, token);
      if (update.executeUpdate() == 1) {
        renewedAtNanos = started;
        return;
      }
    }
    Holder current = read(c);
    lostTo = current == null ? "nobody (the row was deleted)"
        : "member %s on host '%s'".formatted(current.member(), current.host());
    holding = false;
    LOG.errorf("Entanglement node '%s': this instance (member %s) lost the node's lease to %s, as it had not renewed "
        + "it in time (a long pause?); it stops serving the node: commits of entangled entities fail from now on. "
        + "Restart it: it then joins the node as a member again", node, memberId, lostTo);
  }

  /**
   * Why this holder may not commit now, or null: it has not renewed the lease for
   * {@link #FENCE_FRACTION} of the timeout (the database or this process was too slow), so another
   * member could take the lease over before the commit ends. Commits fail until a renewal passes.
   */
  public String fenced() {
    if (!holding) {
      return null;
    }
    long silentMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - renewedAtNanos);
    long limit = (long) (timeout.toMillis() * FENCE_FRACTION);
    return silentMillis <= limit ? null : ("This application instance holds Entanglement node '%s''s links but has not "
        + "renewed their lease for %d ms (it stops committing after %d ms, before another member may take the links "
        + "over after %d ms of silence, %s); the transaction is rolled back. Retry it").formatted(node, silentMillis,
        limit, timeout.toMillis(), EntanglementSettings.NODE_LEASE_TIMEOUT_MS);
  }

  /** Where the member holding the lease serves the member link, and the secret it asks for. */
  public record Link(String memberId, long token, String address, String secret) {}

  /**
   * Fences one of the holder's transactions in the database: locks the lease row in it while
   * this member still holds the lease with its token, so that no member can take the lease over
   * before the transaction ends, and the next holder, reading the node's state after its
   * take-over, sees what the transaction wrote. False when the lease is gone (or going): the
   * transaction must then write nothing a holder writes.
   */
  public boolean fence(Connection transaction) throws SQLException {
    if (!holding || lostTo != null) {
      return false;
    }
    if (lockingRead) {
      try (PreparedStatement lock = transaction.prepareStatement(
          "SELECT token FROM entanglement_lease WHERE node_name = ? AND member_id = ? AND token = ? FOR UPDATE")) {
        lock.setString(1, node);
        lock.setString(2, memberId);
        lock.setLong(3, token);
        try (ResultSet row = lock.executeQuery()) {
          return row.next();
        }
      }
    }
    try (PreparedStatement lock = transaction.prepareStatement(
        "UPDATE entanglement_lease SET token = token WHERE node_name = ? AND member_id = ? AND token = ?")) {
      lock.setString(1, node);
      lock.setString(2, memberId);
      lock.setLong(3, token);
      return lock.executeUpdate() == 1;
    }
  }

  /**
   * Publishes where this holder serves the member link, with a new secret for its hold of the
   * lease; false when it no longer holds it.
   */
  public boolean publishLink(String address, String secret) throws SQLException {
    return inConnection(c -> {
      try (PreparedStatement update = c.prepareStatement("UPDATE entanglement_lease SET link_address = ?, "
          + "link_secret = ? WHERE node_name = ? AND member_id = ? AND token = ?")) {
        update.setString(1, address);
        update.setString(2, secret);
        update.setString(3, node);
        update.setString(4, memberId);
        update.setLong(5, token);
        return update.executeUpdate() == 1;
      }
    });
  }

  /** The holder's member link as published, or null (no holder, or it has not published it yet). */
  public Link holderLink() throws SQLException {
    return inConnection(c -> {
      try (PreparedStatement select = c.prepareStatement("SELECT member_id, token, link_address, link_secret "
          + "FROM entanglement_lease WHERE node_name = ?")) {
        select.setString(1, node);
        try (ResultSet rows = select.executeQuery()) {
          if (!rows.next() || rows.getString(3) == null) {
            return null;
          }
          return new Link(rows.getString(1), rows.getLong(2), rows.getString(3), rows.getString(4));
        }
      }
    });
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

  /**
   * Leaves the node at a clean stop: removes this member, and gives the lease up if it holds it,
   * so that another member takes the links at its next heartbeat.
   */
  public void release() {
    try {
      inConnection(c -> {
        try (PreparedStatement delete = c.prepareStatement("DELETE FROM entanglement_member WHERE member_id = ?")) {
          delete.setString(1, memberId);
          delete.executeUpdate();
        }
        if (!holding || lostTo != null) {
          return 0;
        }
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
    try (var permit = budget.enterForLease()) {
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
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName() + " (pid " + ProcessHandle.current().pid() + ")";
    } catch (Exception e) {
      return "unknown host (pid " + ProcessHandle.current().pid() + ")";
    }
  }
}
