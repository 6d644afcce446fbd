package dev.entanglement.benchmarks.support;

import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;

/**
 * The pipeline a user would build instead of the plugin: Debezium embedded (PostgreSQL connector,
 * {@code pgoutput}, tuned for latency) capturing the source database's {@code benchitem} table,
 * and a consumer that upserts each {@code handleBatch} call's rows into the sink database in one
 * JDBC batch and one transaction ({@code INSERT ... ON CONFLICT (id) DO UPDATE}), then marks the
 * records processed. Offsets stay in memory; the replication slot is the pipeline's own and is
 * dropped when it stops, so every instance starts streaming from the moment it is up.
 *
 * <p>Concurrency: the engine's thread calls {@link #handleBatch} (one call at a time) and is the
 * only writer of the consumer's connection and statement and of {@link Tracker#visibleAt};
 * {@link #delivered}, {@link #batches}, {@link #lastSeq} and {@link #failure} are read by the
 * measuring thread, which sets {@link #tracker}.
 */
public final class DebeziumPipeline implements AutoCloseable {
  /** Debezium's tuning for latency, as limits-measured.md measured it ("tuned"). */
  public static final Map<String, String> TUNING = Map.of(
      "poll.interval.ms", "1",
      "max.batch.size", "8192",
      "max.queue.size", "32768");
  private static final AtomicInteger SLOTS = new AtomicInteger();
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private final Connection sink;
  private final PreparedStatement upsert;
  private final DebeziumEngine<RecordChangeEvent<SourceRecord>> engine;
  private final ExecutorService runner;
  private final AtomicLong delivered = new AtomicLong();
  private final AtomicLong batches = new AtomicLong();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private volatile Tracker tracker;
  /** The seq of the last row delivered (the start's probes look for theirs). */
  private volatile long lastSeq = Long.MIN_VALUE;

  /**
   * Rows of one latency round: seq {@code base + i} is row {@code i}; the consumer stamps when
   * its batch commit returned.
   */
  public static final class Tracker {
    private final long base;
    private final long[] visibleAt;
    private final AtomicInteger seen = new AtomicInteger();

    public Tracker(long base, int rows) {
      this.base = base;
      this.visibleAt = new long[rows];
    }

    /** Waits until every row was delivered; each row's time from commit to delivery, in ns. */
    public long[] await(long[] committedAt, Duration timeout, DebeziumPipeline pipeline) {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (seen.get() < visibleAt.length) {
        pipeline.checkHealthy();
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("Debezium delivered %,d of %,d rows within %s"
              .formatted(seen.get(), visibleAt.length, timeout));
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
      }
      long[] latencies = new long[visibleAt.length];
      for (int i = 0; i < latencies.length; i++) {
        latencies[i] = Math.max(0, visibleAt[i] - committedAt[i]);
      }
      return latencies;
    }
  }

  private DebeziumPipeline(DbSettings source, DbSettings sinkDb) throws SQLException {
    this.sink = sinkDb.connect();
    sink.setAutoCommit(false);
    this.upsert = sink.prepareStatement("INSERT INTO benchitem (id, seq, name, quantity, price, active, note) "
        + "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, name = EXCLUDED.name, "
        + "quantity = EXCLUDED.quantity, price = EXCLUDED.price, active = EXCLUDED.active, note = EXCLUDED.note");
    Properties properties = new Properties();
    config(source).forEach(properties::setProperty);
    this.engine = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
        .using(properties)
        .using((success, message, error) -> {
          if (!success) {
            failure.compareAndSet(null, error != null ? error : new IllegalStateException(message));
          }
        })
        .notifying(this::handleBatch)
        .build();
    this.runner = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "debezium-engine");
      t.setDaemon(true);
      return t;
    });
  }

  /** The engine's configuration for a source database (printed in the report's notes). */
  public static Map<String, String> config(DbSettings source) {
    String slot = "bench_" + SLOTS.incrementAndGet();
    Map<String, String> config = new LinkedHashMap<>();
    config.put("name", "bench-" + slot);
    config.put("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
    config.put("offset.storage", "org.apache.kafka.connect.storage.MemoryOffsetBackingStore");
    config.put("database.hostname", "localhost");
    config.put("database.port", Integer.toString(Db.logicalPostgres().getPort()));
    config.put("database.user", source.user());
    config.put("database.password", source.password());
    config.put("database.dbname", source.name());
    config.put("topic.prefix", "bench");
    config.put("plugin.name", "pgoutput");
    config.put("slot.name", slot);
    config.put("slot.drop.on.stop", "true");
    config.put("publication.name", "bench_pub");
    config.put("publication.autocreate.mode", "filtered");
    config.put("table.include.list", "public.benchitem");
    config.put("snapshot.mode", "no_data");
    config.putAll(TUNING);
    return config;
  }

  /**
   * Starts the engine and returns once it streams: {@code probe} commits a new row on the source
   * and returns its seq, again until the consumer has delivered the latest probe. Every earlier
   * probe was committed before it, so it was either delivered before it or, committed before
   * the slot existed, never will be: no stray row reaches the measured rounds.
   */
  public static DebeziumPipeline start(DbSettings source, DbSettings sink, LongSupplier probe) throws SQLException {
    DebeziumPipeline pipeline = new DebeziumPipeline(source, sink);
    pipeline.runner.execute(pipeline.engine);
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    try {
      boolean seen = false;
      while (!seen) {
        pipeline.checkHealthy();
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("Debezium did not stream within " + START_TIMEOUT);
        }
        long seq = probe.getAsLong();
        long wait = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
        while (!(seen = pipeline.lastSeq == seq) && System.nanoTime() < wait) {
          LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
        }
      }
    } catch (RuntimeException e) {
      pipeline.close();
      throw e;
    }
    return pipeline;
  }

  private void handleBatch(List<RecordChangeEvent<SourceRecord>> records,
      DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer) throws InterruptedException {
    Tracker current = tracker;
    long[] seqs = new long[records.size()];
    int rows = 0;
    try {
      for (RecordChangeEvent<SourceRecord> event : records) {
        Object value = event.record().value();
        if (!(value instanceof Struct envelope) || envelope.getStruct("after") == null) {
          continue; // heartbeats, tombstones and deletes: the workload has none
        }
        Struct after = envelope.getStruct("after");
        long seq = after.getInt64("seq");
        upsert.setObject(1, UUID.fromString(after.getString("id")));
        upsert.setLong(2, seq);
        upsert.setString(3, after.getString("name"));
        upsert.setInt(4, after.getInt32("quantity"));
        upsert.setDouble(5, after.getFloat64("price"));
        upsert.setBoolean(6, after.getBoolean("active"));
        upsert.setString(7, after.getString("note"));
        upsert.addBatch();
        seqs[rows++] = seq;
      }
      if (rows > 0) {
        upsert.executeBatch();
        sink.commit();
      }
    } catch (SQLException | RuntimeException e) {
      failure.compareAndSet(null, e);
      throw new IllegalStateException("the consumer's upsert failed", e);
    }
    long now = System.nanoTime();
    if (current != null) {
      for (int i = 0; i < rows; i++) {
        long index = seqs[i] - current.base;
        if (index >= 0 && index < current.visibleAt.length) {
          current.visibleAt[(int) index] = now;
          current.seen.incrementAndGet();
        }
      }
    }
    if (rows > 0) {
      lastSeq = seqs[rows - 1];
    }
    delivered.addAndGet(rows);
    batches.incrementAndGet();
    for (RecordChangeEvent<SourceRecord> event : records) {
      committer.markProcessed(event);
    }
    committer.markBatchFinished();
  }

  /** Starts stamping the rows of a latency round (before its first commit). */
  public Tracker track(long base, int rows) {
    Tracker t = new Tracker(base, rows);
    tracker = t;
    return t;
  }

  /** Rows committed into the sink so far, probes included. */
  public long delivered() {
    return delivered.get();
  }

  /** handleBatch calls that wrote rows or not. */
  public long batches() {
    return batches.get();
  }

  /** Throws if the engine or the consumer failed. */
  public void checkHealthy() {
    Throwable t = failure.get();
    if (t != null) {
      throw new IllegalStateException("the Debezium pipeline failed", t);
    }
  }

  /** Stops the engine (its slot is dropped) and closes the consumer's connection. */
  @Override
  public void close() {
    try {
      engine.close();
    } catch (IOException e) {
      failure.compareAndSet(null, e);
    }
    runner.shutdown();
    try {
      if (!runner.awaitTermination(30, TimeUnit.SECONDS)) {
        System.err.println("the Debezium engine did not stop within 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      upsert.close();
      sink.close();
    } catch (SQLException e) {
      System.err.println("could not close the Debezium consumer's connection: " + e);
    }
  }
}
