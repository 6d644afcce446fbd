package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.report.Target;
import dev.entanglement.benchmarks.support.DebeziumPipeline;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.DbSettings;
import dev.entanglement.benchmarks.support.GcTime;
import dev.entanglement.benchmarks.support.Interleaved;
import dev.entanglement.benchmarks.support.Interleaved.Variant;
import dev.entanglement.benchmarks.support.Node;
import dev.entanglement.benchmarks.support.Nodes;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pacer;
import dev.entanglement.benchmarks.support.Pair;
import dev.entanglement.benchmarks.support.Percentiles;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.Transport;
import dev.entanglement.benchmarks.support.Workload;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Debezium side by side (issue 15): the pipeline a user would build instead of the plugin
 * ({@link DebeziumPipeline}: Debezium embedded capturing a PostgreSQL table, a consumer
 * batch-upserting into a second database) against two nodes replicating the same rows, in the
 * same run, on the same PostgreSQL server ({@link Db#POSTGRESQL_LOGICAL}: durable commits,
 * {@code wal_level=logical}). Both applications are Hibernate committing {@link BenchItem}s.
 *
 * <p>Latency: at a fixed rate of 1-row commits, from the moment {@code commit()} returned on the
 * source to the moment the row is committed in the second database (ours: found there by the
 * {@code VisibilityPoller}, as in {@link CommitToVisible}; Debezium: the consumer's batch
 * commit returned). Throughput: the source commits as fast as it can; rows/s counted at the
 * second database ({@code count(*)}) over a fixed window after a warm-up, and the backlog left
 * when the source stopped.
 *
 * <p>A Debezium engine is started for each of its rounds and stopped after it (its slot
 * dropped): tuned to poll every 1 ms it keeps about half a core busy while idle, which would
 * otherwise be taken from our rounds on a 2-core machine.
 *
 * <p>Concurrency: every field is owned by the thread running the scenario; the source's worker
 * threads of a throughput round only commit through {@link Node} and return their counts
 * through futures (their executor holds at most {@value #SINGLE_ROW_THREADS} tasks and is shut
 * down after the round).
 */
public final class DebeziumSideBySide implements Scenario {
  static final int RATE = 200;
  static final int ROWS_PER_TX = 1000;
  static final int SINGLE_ROW_THREADS = 2;
  /** Both applications batch their inserts, as a bulk-loading application would. */
  static final Map<String, String> BATCHING = BulkThroughput.BATCHING;
  /** seq values of latency rounds and probes: far above the ones {@link Workload} hands out. */
  private static final AtomicLong SEQ = new AtomicLong(1L << 40);
  private static final Duration DELIVERY_TIMEOUT = Duration.ofMinutes(2);

  private Node dbzSource;
  private DbSettings dbzSink;
  private final AtomicLong dbzDelivered = new AtomicLong();
  private final AtomicLong dbzBatches = new AtomicLong();
  private final List<Double> dbzStartMillis = new ArrayList<>();
  /** Rows the current throughput round committed, set before its drain wait (which reads it). */
  private final AtomicLong committedThisRound = new AtomicLong();

  @Override
  public String id() {
    return "debezium";
  }

  private enum Load {
    BULK("1000-row tx, 1 thread"),
    SINGLE("1-row tx, %d threads".formatted(SINGLE_ROW_THREADS));

    final String label;

    Load(String label) {
      this.label = label;
    }
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    int latencySeconds = options.pick(1, 8);
    int latencyRounds = options.pick(1, 3);
    long warmNanos = options.millis(300, 1000);
    long windowNanos = options.millis(700, 5000);
    int throughputRounds = options.pick(1, 3);
    report.section("9. Debezium side by side, PostgreSQL (same server, same run)",
        "Debezium: Debezium %s embedded, PostgreSQL connector (pgoutput, tuned: %s), consumer upserting each"
            .formatted(debeziumVersion(), DebeziumPipeline.TUNING),
        "  handleBatch call into a second database (INSERT ... ON CONFLICT DO UPDATE, addBatch/executeBatch, one",
        "  transaction), then marking the records processed; an engine is started per round (not timed);",
        "ours: two nodes over Netty loopback, each on its own database of the same server;",
        "both sources: Hibernate persisting BenchItem rows (hibernate.jdbc.batch_size=100);",
        "latency: %d 1-row commits/s, %d s per round, 1 warm-up round discarded, %d measured; t0 = commit()"
            .formatted(RATE, latencySeconds, latencyRounds),
        "  returned; t1 = ours: a poller finds the row in the second database (as in section 3, overstates by",
        "  its poll resolution); Debezium: the consumer's commit of the batch holding the row returned;",
        "throughput: the source commits as fast as it can for %.1f s; rows/s = count(*) in the second database"
            .formatted((warmNanos + windowNanos) / 1e9),
        "  over the last %.1f s of it (the first %.1f s are warm-up); backlog = rows committed but not yet in"
            .formatted(windowNanos / 1e9, warmNanos / 1e9),
        "  the second database when the source stopped; 1 warm-up round discarded, %d measured, pipelines rotated"
            .formatted(throughputRounds));
    Pair pair = null;
    try {
      report.note("PostgreSQL: " + Db.logicalPostgresDescription());
      pair = Pair.start(Db.POSTGRESQL_LOGICAL, Transport.NETTY, BATCHING);
      dbzSource = Node.plain(Db.POSTGRESQL_LOGICAL.fresh("dbz_source"), BATCHING);
      dbzSink = Db.POSTGRESQL_LOGICAL.fresh("dbz_sink");
      // the consumer's table, as Hibernate would create it for the same entity
      Node schema = Node.plain(dbzSink, Map.of());
      schema.close();
      report.note("Debezium engine: " + redacted(DebeziumPipeline.config(dbzSource.db())));

      latency(report, pair, latencySeconds, latencyRounds);
      throughput(report, pair, warmNanos, windowNanos, throughputRounds);

      report.note("Debezium: %,d rows in %,d handleBatch calls (avg %.1f rows/call); engine start to first delivered row: median %.0f ms"
          .formatted(dbzDelivered.get(), dbzBatches.get(), dbzDelivered.get() / (double) Math.max(1, dbzBatches.get()),
              new Summary(dbzStartMillis).median()));
    } finally {
      if (pair != null) {
        pair.close();
      }
      Nodes.closeAndDispose(dbzSource);
      if (dbzSink != null) {
        dbzSink.dispose();
      }
      Db.stopLogicalPostgres();
    }
  }

  private void latency(Report report, Pair pair, int seconds, int rounds) throws Exception {
    List<Variant> variants = List.of(
        new Variant("ours", () -> CommitToVisible.round(pair, RATE, seconds, "ours")),
        new Variant("debezium", () -> debeziumLatencyRound(seconds)));
    Map<String, Summary> r = Interleaved.run(0, rounds, variants);
    String name = "commit-to-visible in the second database, PostgreSQL @%d/s".formatted(RATE);
    report.figure(name + ", Debezium p50", r.get("debezium p50"), "us");
    report.info(name + ", Debezium p99", r.get("debezium p99"), "us");
    report.info(name + ", Debezium p99.9", r.get("debezium p99.9"), "us");
    report.info(name + ", Debezium max", r.get("debezium max"), "us");
    report.figure(name + ", ours p50", r.get("ours p50"), "us");
    report.compare(name + ", ours p99", r.get("ours p99"), "us", "Debezium p99", r.get("debezium p99"),
        Target.atMost(0.5));
    report.detail(name + ", ours p99.9", r.get("ours p99.9"), "us", "Debezium p99.9", r.get("debezium p99.9"), null);
    report.info(name + ", ours max", r.get("ours max"), "us");
    report.info("source transaction (persist + commit), Debezium's source p50", r.get("debezium commit p50"), "us");
    report.info("source transaction (persist + commit), ours p50", r.get("ours commit p50"), "us");
  }

  private Map<String, Double> debeziumLatencyRound(int seconds) throws Exception {
    int n = RATE * seconds;
    UUID[] ids = new UUID[n];
    for (int i = 0; i < n; i++) {
      ids[i] = UUID.randomUUID();
    }
    long[] committedAt = new long[n];
    long[] commitNanos = new long[n];
    try (DebeziumPipeline pipeline = startPipeline()) {
      long base = SEQ.getAndAdd(n);
      DebeziumPipeline.Tracker tracker = pipeline.track(base, n);
      long gcBefore = GcTime.totalMillis();
      Pacer pacer = new Pacer(RATE);
      for (int i = 0; i < n; i++) {
        pacer.awaitNext();
        BenchItem item = new BenchItem(ids[i], base + i);
        long start = System.nanoTime();
        dbzSource.inTransaction(em -> em.persist(item));
        long committed = System.nanoTime();
        committedAt[i] = committed;
        commitNanos[i] = committed - start;
      }
      long[] latencies = tracker.await(committedAt, DELIVERY_TIMEOUT, pipeline);
      long gcMillis = GcTime.totalMillis() - gcBefore;
      account(pipeline);
      Percentiles p = new Percentiles(latencies);
      return Map.of(
          "debezium p50", p.at(50) / 1e3,
          "debezium p99", p.at(99) / 1e3,
          "debezium p99.9", p.at(99.9) / 1e3,
          "debezium max", p.max() / 1e3,
          "debezium commit p50", new Percentiles(commitNanos).at(50) / 1e3,
          "debezium gc", (double) gcMillis);
    }
  }

  private void throughput(Report report, Pair pair, long warmNanos, long windowNanos, int rounds) throws Exception {
    for (Load load : Load.values()) {
      List<Variant> variants = List.of(
          new Variant("ours", () -> throughputRound("ours", pair.source(), pair.sink().db(), load,
              warmNanos, windowNanos, pair::awaitCaughtUp)),
          new Variant("debezium", () -> {
            try (DebeziumPipeline pipeline = startPipeline()) {
              long before = pipeline.delivered();
              Map<String, Double> result = throughputRound("debezium", dbzSource, dbzSink, load, warmNanos,
                  windowNanos, () -> awaitDelivered(pipeline, before, committedThisRound));
              account(pipeline);
              return result;
            }
          }));
      Map<String, Summary> r = Interleaved.run(0, rounds, variants);
      String name = "rows/s delivered into the second database, PostgreSQL, " + load.label;
      report.figure(name + ", Debezium", r.get("debezium rate"), "rows/s");
      report.info("source commit rate meanwhile, Debezium's source", r.get("debezium source"), "rows/s");
      report.info("backlog when the source stopped, Debezium", r.get("debezium backlog"), "rows");
      report.info("drained after the source stopped, Debezium", r.get("debezium drain"), "ms");
      report.compare(name + ", ours", r.get("ours rate"), "rows/s", "Debezium", r.get("debezium rate"),
          Target.atLeast(1.0));
      report.detail("source commit rate meanwhile, ours", r.get("ours source"), "rows/s", "Debezium's source",
          r.get("debezium source"), null);
      report.info("backlog when the source stopped, ours", r.get("ours backlog"), "rows");
      report.info("drained after the source stopped, ours", r.get("ours drain"), "ms");
    }
  }

  private static void awaitDelivered(DebeziumPipeline pipeline, long before, AtomicLong committed) {
    long deadline = System.nanoTime() + DELIVERY_TIMEOUT.toNanos();
    while (pipeline.delivered() - before < committed.get()) {
      pipeline.checkHealthy();
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("Debezium delivered %,d of %,d rows within %s"
            .formatted(pipeline.delivered() - before, committed.get(), DELIVERY_TIMEOUT));
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }

  /**
   * One round: the source commits for warm + window; the second database's row count is read
   * when the window opens and closes; then the source stops, the backlog is read, and
   * {@code awaitDrained} waits until the pipeline delivered everything (the count is checked).
   */
  private Map<String, Double> throughputRound(String key, Node source, DbSettings sink, Load load, long warmNanos,
      long windowNanos, Runnable awaitDrained) throws Exception {
    ExecutorService workers = Executors.newFixedThreadPool(SINGLE_ROW_THREADS);
    try (Connection counter = sink.connect()) {
      long c0 = count(counter);
      long start = System.nanoTime();
      long total = warmNanos + windowNanos;
      List<Future<Workload.Done>> done = new ArrayList<>();
      if (load == Load.BULK) {
        done.add(workers.submit(() -> Workload.bulkInsertFor(source, ROWS_PER_TX, total)));
      } else {
        for (int t = 0; t < SINGLE_ROW_THREADS; t++) {
          done.add(workers.submit(() -> Workload.insertFor(source, total)));
        }
      }
      parkUntil(start + warmNanos);
      long t1 = System.nanoTime();
      long c1 = count(counter);
      parkUntil(start + total);
      long t2 = System.nanoTime();
      long c2 = count(counter);
      long committed = 0;
      long sourceNanos = 0;
      for (Future<Workload.Done> f : done) {
        Workload.Done d = f.get();
        committed += d.count();
        sourceNanos = Math.max(sourceNanos, d.nanos());
      }
      long stopped = System.nanoTime();
      long backlog = committed - (count(counter) - c0);
      committedThisRound.set(committed);
      awaitDrained.run();
      long drainNanos = System.nanoTime() - stopped;
      long arrived = count(counter) - c0;
      if (arrived != committed) {
        throw new IllegalStateException("%s: the second database has %,d new rows, the source committed %,d"
            .formatted(key, arrived, committed));
      }
      return Map.of(
          key + " rate", (c2 - c1) / ((t2 - t1) / 1e9),
          key + " source", committed / (sourceNanos / 1e9),
          key + " backlog", (double) Math.max(0, backlog),
          key + " drain", drainNanos / 1e6);
    } finally {
      workers.shutdownNow();
    }
  }

  private DebeziumPipeline startPipeline() throws SQLException {
    long start = System.nanoTime();
    DebeziumPipeline pipeline = DebeziumPipeline.start(dbzSource.db(), dbzSink,
        () -> {
          long seq = SEQ.incrementAndGet();
          dbzSource.inTransaction(em -> em.persist(new BenchItem(UUID.randomUUID(), seq)));
          return seq;
        });
    dbzStartMillis.add((System.nanoTime() - start) / 1e6);
    return pipeline;
  }

  private void account(DebeziumPipeline pipeline) {
    pipeline.checkHealthy();
    dbzDelivered.addAndGet(pipeline.delivered());
    dbzBatches.addAndGet(pipeline.batches());
  }

  private static long count(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("select count(*) from benchitem")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** The measuring thread waits out a timed window; nothing is synchronized by it. */
  private static void parkUntil(long deadline) {
    long wait;
    while ((wait = deadline - System.nanoTime()) > 0) {
      LockSupport.parkNanos(wait);
    }
  }

  private static Map<String, String> redacted(Map<String, String> config) {
    Map<String, String> copy = new LinkedHashMap<>(config);
    copy.replace("database.password", "***");
    copy.replace("slot.name", "bench_<n> (one per round)");
    copy.replace("name", "bench-<slot>");
    return copy;
  }

  private static String debeziumVersion() {
    try {
      return io.debezium.connector.postgresql.Module.version();
    } catch (RuntimeException | LinkageError e) {
      return "3.6.1.Final";
    }
  }
}
