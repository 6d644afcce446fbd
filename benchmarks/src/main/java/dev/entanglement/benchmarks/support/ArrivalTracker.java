package dev.entanglement.benchmarks.support;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.h2.api.Trigger;

/**
 * When each of many H2 databases (the nodes of a fan-out) holds each of a known list of rows,
 * with the meaning of {@link VisibilityPoller}: the row is found by primary key on a JDBC
 * connection of its own (autocommit, read committed), as an application would read it.
 *
 * <p>Polling 110 databases in turns would cost one query per database per sweep and take a core
 * from the nodes being measured. Instead an H2 trigger ({@link Signal}, {@code AFTER INSERT} on
 * {@code BenchItem}) tells this tracker which database just wrote which row; the poller thread
 * queries only those, until the row is visible (the trigger fires inside the applying
 * transaction, before its commit, so it is never counted from the trigger itself). Between
 * queries of a row not yet visible it parks {@value VisibilityPoller#PARK_MICROS} us, as
 * {@link VisibilityPoller} does; when idle it parks until a trigger wakes it. A time is thus
 * overstated by at most one park plus one query, as in the latency scenario.
 *
 * <p>Concurrency: {@code index}, {@code ids} and the connections are set before {@link #start()}
 * and only read afterwards; {@code signals} is written by the appliers' threads (the trigger) and
 * drained by the poller; {@code visibleAt} and {@code pending} belong to the poller thread until
 * {@link #await} joined it; {@code committedAt} is written by the committing thread (volatile
 * array elements). One tracker is active at a time (the static {@code active}).
 */
public final class ArrivalTracker implements AutoCloseable {
  /** The tracker the triggers report to; null between runs (their signals are then dropped). */
  private static volatile ArrivalTracker active;

  private final List<DbSettings> databases;
  private final UUID[] ids;
  private final Map<UUID, Integer> index = new HashMap<>();
  private final AtomicLongArray committedAt;
  private final long[][] visibleAt;
  private final Connection[] connections;
  /**
   * (database, row) pairs written but not yet seen by the poller. Bounded by the data: each
   * database inserts each row once, so at most databases x rows entries ever arrive.
   */
  private final ConcurrentLinkedQueue<long[]> signals = new ConcurrentLinkedQueue<>();
  private final Thread thread;
  private volatile boolean stopped;
  private volatile Throwable failure;
  private volatile long seen;

  /**
   * Installs the trigger in each database (its {@code BenchItem} table must exist).
   *
   * @param databases the databases to watch; their position is their number in the results
   * @param ids the rows, in commit order
   * @param committedAt filled in by the committing thread: when {@code commit()} returned
   */
  public ArrivalTracker(List<DbSettings> databases, UUID[] ids,
      AtomicLongArray committedAt) throws SQLException {
    this.databases = List.copyOf(databases);
    this.ids = ids.clone();
    for (int i = 0; i < ids.length; i++) {
      index.put(ids[i], i);
    }
    this.committedAt = committedAt;
    this.visibleAt = new long[databases.size()][ids.length];
    this.connections = new Connection[databases.size()];
    for (int d = 0; d < databases.size(); d++) {
      connections[d] = databases.get(d).connect();
      try (Statement s = connections[d].createStatement()) {
        s.execute("DROP TRIGGER IF EXISTS FANOUT_ARRIVAL_" + d);
        s.execute("CREATE TRIGGER FANOUT_ARRIVAL_" + d + " AFTER INSERT ON BenchItem FOR EACH ROW CALL \""
            + Signal.class.getName() + "\"");
      }
    }
    this.thread = new Thread(this::poll, "arrival-tracker");
    thread.setDaemon(true);
  }

  public void start() {
    active = this;
    thread.start();
  }

  private void signal(int database, UUID id) {
    Integer row = index.get(id);
    if (row != null) {
      signals.add(new long[] {database, row});
      LockSupport.unpark(thread);
    }
  }

  private void poll() {
    long park = TimeUnit.MICROSECONDS.toNanos(VisibilityPoller.PARK_MICROS);
    long expected = (long) databases.size() * ids.length;
    List<long[]> pending = new ArrayList<>();
    PreparedStatement[] finds = new PreparedStatement[connections.length];
    try {
      for (int d = 0; d < connections.length; d++) {
        finds[d] = connections[d].prepareStatement("select 1 from BenchItem where id = ?");
      }
      long count = 0;
      while (!stopped && count < expected) {
        for (long[] signal; (signal = signals.poll()) != null; ) {
          pending.add(signal);
        }
        if (pending.isEmpty()) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // a trigger wakes it sooner
          continue;
        }
        for (Iterator<long[]> it = pending.iterator(); it.hasNext(); ) {
          long[] signal = it.next();
          int d = (int) signal[0];
          int row = (int) signal[1];
          finds[d].setObject(1, ids[row]);
          if (exists(finds[d])) {
            visibleAt[d][row] = System.nanoTime();
            it.remove();
            seen = ++count;
          }
        }
        if (!pending.isEmpty()) {
          LockSupport.parkNanos(park);
        }
      }
    } catch (SQLException | RuntimeException e) {
      failure = e;
    } finally {
      for (PreparedStatement find : finds) {
        if (find != null) {
          try {
            find.close();
          } catch (SQLException e) {
            // closing; the connections close next
          }
        }
      }
    }
  }

  private static boolean exists(PreparedStatement find) throws SQLException {
    try (ResultSet rs = find.executeQuery()) {
      return rs.next();
    }
  }

  /**
   * Waits until every database holds every row; returns, per database and row, the time from
   * the row's commit at its source to its visibility there, in nanoseconds.
   */
  public long[][] await(Duration timeout) throws InterruptedException {
    TimeUnit.NANOSECONDS.timedJoin(thread, timeout.toNanos());
    if (failure != null) {
      throw new IllegalStateException("the tracker failed", failure);
    }
    long expected = (long) databases.size() * ids.length;
    if (seen < expected) {
      throw new IllegalStateException("only %,d of %,d (database, row) arrivals seen within %s"
          .formatted(seen, expected, timeout));
    }
    long[][] latencies = new long[databases.size()][ids.length];
    for (int d = 0; d < databases.size(); d++) {
      for (int i = 0; i < ids.length; i++) {
        latencies[d][i] = visibleAt[d][i] - committedAt.get(i);
      }
    }
    return latencies;
  }

  @Override
  public void close() throws SQLException, InterruptedException {
    stopped = true;
    LockSupport.unpark(thread);
    thread.join(TimeUnit.SECONDS.toMillis(10));
    if (active == this) {
      active = null;
    }
    for (int d = 0; d < connections.length; d++) {
      try (Statement s = connections[d].createStatement()) {
        s.execute("DROP TRIGGER IF EXISTS FANOUT_ARRIVAL_" + d);
      } finally {
        connections[d].close();
      }
    }
  }

  /**
   * The H2 trigger: runs in the applying transaction's thread, and only hands the row's id to
   * the active tracker (a map lookup, a queue add and an unpark). Its database's number is in
   * the trigger's name.
   */
  public static final class Signal implements Trigger {
    private int database;
    private int idColumn = -1;

    public Signal() {}

    @Override
    public void init(Connection conn, String schemaName, String triggerName, String tableName, boolean before,
        int type) throws SQLException {
      database = Integer.parseInt(triggerName.substring(triggerName.lastIndexOf('_') + 1));
      try (ResultSet columns = conn.getMetaData().getColumns(null, schemaName, tableName, null)) {
        while (columns.next()) {
          if ("ID".equalsIgnoreCase(columns.getString("COLUMN_NAME"))) {
            idColumn = columns.getInt("ORDINAL_POSITION") - 1;
          }
        }
      }
      if (idColumn < 0) {
        throw new SQLException("no ID column in " + tableName);
      }
    }

    @Override
    public void fire(Connection conn, Object[] oldRow, Object[] newRow) {
      ArrivalTracker tracker = active;
      if (tracker != null && newRow != null) {
        Object id = newRow[idColumn];
        tracker.signal(database, id instanceof UUID uuid ? uuid : UUID.fromString(String.valueOf(id)));
      }
    }
  }
}
