package dev.entanglement.hibernate.internal.boot;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.ChangeLog;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.MemberChanges;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.sql.Statement;
import dev.entanglement.hibernate.internal.store.NodeLease;
import org.postgresql.PGConnection;
import java.util.concurrent.TimeUnit;
import org.hibernate.engine.jdbc.connections.spi.ConnectionProvider;
import org.jboss.logging.Logger;

/**
 * The link holder's half of several members: gives the changes the followers committed
 * ({@link MemberChanges}) this node's serials, in the order they were recorded, and offers them
 * to the peers exactly like the holder's own commits (serials unfinished until offered, so no
 * position passes them). A change whose object was written again since is dropped: the newer
 * state has, or will get, a serial of its own.
 *
 * <p>When it looks: while other members are alive (their heartbeats, counted by the lease thread), on PostgreSQL as soon
 * as a follower's commit notifies it ({@code LISTEN}, on a connection it keeps for that, and at
 * least every {@link #LISTEN_SAFETY_MILLIS} ms), on H2, MariaDB and MySQL every {@link #POLL_MILLIS} ms. Alone it
 * costs no connection of its own: the lease thread's round also counts the changes waiting (what
 * members that stopped left behind, one that spanned this member's own take-over), and a member that joins
 * is counted within one renewal interval of its boot (its first commits may wait that long).
 *
 * <h2>Concurrency</h2>
 * Runs on a thread of its own, which owns {@code listener} and {@code lastReport}; {@code stopped} is volatile, set by
 * {@link #stop}, which also closes the listener to end a wait on it.
 */
final class MemberChangeStamper {
  private static final Logger LOG = Logger.getLogger(MemberChangeStamper.class);
  /** How often the holder looks for the followers' commits on H2 while followers are alive. */
  static final long POLL_MILLIS = 5;
  /** The longest wait for a notification on PostgreSQL (one may be missed while the listener opens). */
  static final int LISTEN_SAFETY_MILLIS = 250;
  /** The most changes one round stamps (and offers before its commit: see {@link #round}). */
  static final int BATCH = 500;
  /**
   * How many serials one reservation covers: one flushed write per this many serials of the node
   * (its own commits included), and a restart after a crash skips at most this many.
   */
  static final long RESERVE = 10_000;

  private final NodeRuntime node;
  private final ConnectionProvider connections;
  private final LimitedLog failures = new LimitedLog(LOG);
  private final ExecutorService thread;
  /** The entity types this member maps: the only ones it can stamp. */
  private final List<String> entityNames;
  private final LimitedLog waitingTypes = new LimitedLog(LOG);
  private long lastReport;
  /** Serials up to this one may be offered before their commit (entanglement_node.serials_offered). */
  private long offeredThrough;
  private volatile boolean stopped;
  private volatile Connection listener;

  MemberChangeStamper(NodeRuntime node) {
    this.node = node;
    this.connections = node.factory.getServiceRegistry().requireService(ConnectionProvider.class);
    this.entityNames = node.model.types().stream().map(EntangledType::name).toList();
    this.thread = Executors.newSingleThreadExecutor(task -> {
      Thread t = new Thread(task, "entanglement-" + node.config.nodeName() + "-members");
      t.setDaemon(true);
      return t;
    });
  }

  void start() {
    thread.execute(this::loop);
  }

  void stop() {
    stopped = true;
    closeListener();
    thread.shutdownNow();
    try {
      thread.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void loop() {
    long alone = NodeLease.renewInterval(node.config.leaseTimeout()).toMillis();
    lastReport = System.nanoTime();
    while (!stopped) {
      boolean followers = node.otherMembers() > 0;
      // what members that stopped left behind: the lease thread's round counts it (within a renewal
      // interval of this start), so a start borrows no connection of its own (small pools)
      if (!followers && !node.lease.memberChangesWaiting()) {
        pause(alone); // alone: nobody records changes (a member that joins is counted at the next heartbeat)
        continue;
      }
      try {
        if (followers && node.bookkeeping.postgres() && listener == null) {
          openListener();
        } else if (!followers && listener != null) {
          closeListener();
        }
        while (!stopped && round() == BATCH) {
          // a full batch: more are waiting
        }
        if (System.nanoTime() - lastReport > TimeUnit.MILLISECONDS.toNanos(alone)) {
          lastReport = System.nanoTime();
          reportTypesItCannotStamp();
        }
      } catch (SQLException | RuntimeException | Error e) {
        if (e instanceof Error && !(e instanceof LinkageError)) {
          LOG.errorf(e, "Entanglement node '%s': stamping the other members' commits failed", node.config.nodeName());
        }
        closeListener();
        failures.warn("stamp", ("Entanglement node '%s' could not give the other members' commits their serials "
            + "(tried again in %d ms): %s").formatted(node.config.nodeName(), alone, e.getMessage()));
        pause(alone);
        continue;
      }
      Connection listening = listener;
      if (listening != null) {
        awaitNotification(listening);
      } else if (followers) {
        pause(POLL_MILLIS);
      }
    }
  }

  /**
   * Changes of entity types this member does not map (committed by members of a newer version
   * during a rolling upgrade) wait until a member that maps them holds the links: said once a
   * minute, with their counts.
   */
  private void reportTypesItCannotStamp() throws SQLException {
    try (var permit = node.budget.enter()) {
      reportTypesWaiting();
    }
  }

  private void reportTypesWaiting() throws SQLException {
    Connection connection = connections.getConnection();
    try {
      MemberChanges.waitingByEntity(connection).forEach((entity, count) -> {
        if (!entityNames.contains(entity)) {
          waitingTypes.warn(entity, ("Entanglement node '%s': %d changes of entity type %s, committed by members that "
              + "map it, wait until a member that maps it holds the node's links (this one does not: a rolling "
              + "upgrade in progress?)").formatted(node.config.nodeName(), count, entity));
        }
      });
    } finally {
      connections.closeConnection(connection);
    }
  }

  private void openListener() throws SQLException {
    Connection connection = connections.getConnection();
    try {
      connection.unwrap(PGConnection.class); // the driver's notifications: pgjdbc
      connection.setAutoCommit(true);
      try (Statement listen = connection.createStatement()) {
        listen.execute("LISTEN " + MemberChanges.CHANNEL);
      }
      listener = connection;
    } catch (SQLException | RuntimeException | LinkageError e) {
      connections.closeConnection(connection);
      throw e instanceof SQLException sql ? sql : new SQLException("cannot listen for notifications: " + e, e);
    }
  }

  private void awaitNotification(Connection listening) {
    try {
      listening.unwrap(PGConnection.class).getNotifications(LISTEN_SAFETY_MILLIS);
    } catch (SQLException e) {
      if (!stopped) {
        closeListener(); // opened again at the next turn
      }
    }
  }

  private void closeListener() {
    Connection connection = listener;
    listener = null;
    if (connection != null) {
      try (Statement unlisten = connection.createStatement()) {
        unlisten.execute("UNLISTEN *"); // back in the pool, it must not collect notifications
      } catch (SQLException e) {
        LOG.debugf("Ending the members' listener failed: %s", e.getMessage());
      }
      try {
        connections.closeConnection(connection);
      } catch (SQLException e) {
        LOG.debugf("Closing the members' listener connection failed: %s", e.getMessage());
      }
    }
  }

  private void pause(long millis) {
    try {
      Thread.sleep(millis); // a poll interval, not a synchronization: nothing signals H2 commits
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stopped = true;
    }
  }

  private void offer(List<Outgoing> outgoing, List<Long> serials) {
    try {
      node.localChanges.publish(outgoing);
    } catch (RuntimeException e) {
      LOG.errorf(e, "Entanglement could not offer %d changes of other members to its peers; they read them from the "
          + "database after a backoff", outgoing.size());
      node.localChanges.notPublished(serials.stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE), e);
    }
  }

  /** Stamps one batch; returns how many recorded changes it took. */
  int round() throws SQLException {
    try (var permit = node.budget.enter()) {
      return stampBatch();
    }
  }

  private int stampBatch() throws SQLException {
    String self = node.config.nodeName();
    List<Long> serials = new ArrayList<>();
    List<Outgoing> outgoing = new ArrayList<>();
    int taken;
    Connection connection = connections.getConnection();
    try {
      boolean autoCommit = connection.getAutoCommit();
      if (node.clock.last() + BATCH > offeredThrough - RESERVE / 2) {
        // a block of serials that may go out before their commit, flushed before any does
        connection.setAutoCommit(true);
        long upTo = node.clock.last() + BATCH + RESERVE;
        Bookkeeping.offerSerialsUpTo(connection, self, upTo);
        offeredThrough = upTo;
      }
      connection.setAutoCommit(false);
      try {
        if (!node.lease.fence(connection)) {
          // another member holds the links now (this one paused past its lease): it stamps what
          // is recorded, with serials above anything this one offered; nothing may go out from here
          connection.rollback();
          stopped = true;
          LOG.warnf("Entanglement node '%s': this member no longer holds the node's lease; it stops stamping the other "
              + "members' commits", node.config.nodeName());
          return 0;
        }
        // taken out of the table first (one statement on PostgreSQL), stamped in one batch: the
        // fewest round trips before the changes can go out
        List<MemberChanges.Waiting> waiting = MemberChanges.take(connection, BATCH, entityNames,
            node.bookkeeping.postgres());
        taken = waiting.size();
        if (taken == 0) {
          connection.rollback();
          return 0;
        }
        List<MemberChanges.Waiting> readable = new ArrayList<>();
        List<Change> changes = new ArrayList<>();
        for (MemberChanges.Waiting change : waiting) {
          try {
            changes.add(Change.parseFrom(change.change()));
            readable.add(change);
          } catch (InvalidProtocolBufferException e) {
            LOG.errorf("Entanglement node '%s' drops a member's change of %s#%s it cannot read: %s", self,
                change.entity(), change.idText(), e.getMessage());
          }
        }
        long[] numbers = new long[readable.size()];
        boolean[] deletes = new boolean[readable.size()];
        List<Change> stampedChanges = new ArrayList<>();
        for (int k = 0; k < readable.size(); k++) {
          MemberChanges.Waiting change = readable.get(k);
          numbers[k] = node.clock.next();
          serials.add(numbers[k]);
          String key = change.entity() + '#' + change.idText();
          Change stamped = changes.get(k).toBuilder().setOwner(self).setSerial(numbers[k])
              .setEpoch(node.ownership.ownEpoch(key)).build();
          stampedChanges.add(stamped);
          deletes[k] = stamped.getOperation() == Operation.DELETE;
        }
        boolean[] took = MemberChanges.stampAll(connection, readable, self, numbers, deletes);
        List<ChangeLog.Entry> logged = new ArrayList<>();
        for (int k = 0; k < readable.size(); k++) {
          if (!took[k]) {
            continue; // written again since: the newer state is what peers get
          }
          MemberChanges.Waiting change = readable.get(k);
          String key = change.entity() + '#' + change.idText();
          EntangledType type = node.model.byName(change.entity());
          if (!type.coalesce()) {
            logged.add(new ChangeLog.Entry(self, numbers[k], change.entity(), change.idText(),
                stampedChanges.get(k).toByteArray()));
          }
          outgoing.add(new Outgoing(key, type.priority(), type.coalesce(), stampedChanges.get(k)));
        }
        node.bookkeeping.changeLog().append(connection, logged);
        // offered before the commit where the serials are reserved, so the commit's flush is off
        // the path to the peers: the row locks taken above keep the order of each object's
        // states, and the serials stay unfinished (no position passes them) until the commit
        // ends. A commit that fails leaves the changes recorded: stamped again next round, with
        // higher serials, which peers that got these apply over them; a holder that dies first
        // leaves them recorded too, and the next holder's clock starts above the reservation.
        boolean early = !serials.isEmpty() && serials.get(serials.size() - 1) <= offeredThrough;
        if (early) {
          offer(outgoing, serials);
        }
        connection.commit();
        if (!early) {
          offer(outgoing, serials);
        }
      } catch (SQLException | RuntimeException e) {
        connection.rollback();
        throw e;
      } finally {
        node.localChanges.finished(serials);
        connection.setAutoCommit(autoCommit);
      }
    } finally {
      connections.closeConnection(connection);
    }
    return taken;
  }
}
