package dev.entanglement.benchmarks.support;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Finds when each committed row becomes visible in the sink's database, reading it the way an
 * application would: its own JDBC connection (autocommit, read committed) and a primary-key
 * lookup, on a thread of its own.
 *
 * <p>Rows are expected in commit order (one owner's changes are applied in serial order). For
 * row {@code i} the poller waits until the committing thread has stamped it, then queries it
 * until it is there and stamps the time. Between queries it parks for {@value #PARK_MICROS} us
 * (the kernel's timer slack makes that 50-80 us): a busy spin would take one of the machine's
 * two cores from the nodes being measured. A latency is therefore overstated by at most one
 * park plus one query, which is what the report calls the poll resolution.
 */
public final class VisibilityPoller implements AutoCloseable {
  static final long PARK_MICROS = 20;

  private final UUID[] ids;
  private final AtomicLongArray committedAt;
  private final long[] visibleAt;
  private final Connection connection;
  private final Thread thread;
  private volatile boolean stopped;
  private volatile Throwable failure;
  private volatile int seen;

  /**
   * @param sink the database to read
   * @param ids the rows, in commit order
   * @param committedAt filled in by the committing thread: when {@code commit()} returned
   */
  public VisibilityPoller(DbSettings sink, UUID[] ids, AtomicLongArray committedAt) throws SQLException {
    this.ids = ids;
    this.committedAt = committedAt;
    this.visibleAt = new long[ids.length];
    this.connection = sink.connect();
    this.thread = new Thread(this::poll, "visibility-poller");
    thread.setDaemon(true);
  }

  public void start() {
    thread.start();
  }

  private void poll() {
    long park = TimeUnit.MICROSECONDS.toNanos(PARK_MICROS);
    try (PreparedStatement find = connection.prepareStatement("select 1 from BenchItem where id = ?")) {
      for (int i = 0; i < ids.length; i++) {
        while (committedAt.get(i) == 0) {
          if (stopped) {
            return;
          }
          LockSupport.parkNanos(park);
        }
        find.setObject(1, ids[i]);
        while (!exists(find)) {
          if (stopped) {
            return;
          }
          LockSupport.parkNanos(park);
        }
        visibleAt[i] = System.nanoTime();
        seen = i + 1;
      }
    } catch (SQLException | RuntimeException e) {
      failure = e;
    }
  }

  private static boolean exists(PreparedStatement find) throws SQLException {
    try (ResultSet rs = find.executeQuery()) {
      return rs.next();
    }
  }

  /**
   * Waits until every row was seen, and returns each row's commit-to-visible time in
   * nanoseconds (0 when it was visible before the commit call had returned).
   */
  public long[] await(Duration timeout) throws InterruptedException {
    TimeUnit.NANOSECONDS.timedJoin(thread, timeout.toNanos());
    if (failure != null) {
      throw new IllegalStateException("the poller failed", failure);
    }
    if (seen < ids.length) {
      throw new IllegalStateException("only %,d of %,d rows became visible within %s".formatted(seen, ids.length, timeout));
    }
    long[] latencies = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      latencies[i] = Math.max(0, visibleAt[i] - committedAt.get(i));
    }
    return latencies;
  }

  @Override
  public void close() throws SQLException, InterruptedException {
    stopped = true;
    thread.join(TimeUnit.SECONDS.toMillis(10));
    connection.close();
  }
}
