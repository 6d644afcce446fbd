package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.report.Target;
import dev.entanglement.benchmarks.support.Backlog;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.Interleaved;
import dev.entanglement.benchmarks.support.Interleaved.Variant;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pair;
import dev.entanglement.benchmarks.support.RawUpsert;
import dev.entanglement.benchmarks.support.Replication;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.Transport;
import dev.entanglement.benchmarks.support.Workload;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Bulk replication: the source commits transactions of 1000 new rows as fast as it can (H2 in
 * memory); the rate at which the sink has applied them, from the first commit to the last
 * acknowledgement, against the receiving database's raw JDBC batch-upsert rate measured in the
 * same rounds.
 */
public final class BulkThroughput implements Scenario {
  static final int ROWS_PER_TX = 1000;
  /** The application's own JDBC batching, as a bulk-loading application would configure it. */
  static final Map<String, String> BATCHING = Map.of("hibernate.jdbc.batch_size", "100");

  @Override
  public String id() {
    return "bulk";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    long nanos = options.millis(800, 3000);
    int rounds = options.pick(2, 4);
    report.section("2b. Bulk replication, H2 in memory, transactions of %d new rows".formatted(ROWS_PER_TX),
        "each round: the source commits for %.1f s, then waits until the sink answered everything;".formatted(nanos / 1e9),
        "reference: raw JDBC MERGE INTO ... KEY(id), %d rows per batch and commit, into another H2 database;"
            .formatted(ROWS_PER_TX),
        "backlog variant: the source commits the same way before it ever met the sink, then dials it;",
        "timed from the dial until the sink answered everything (catch-up path, fresh nodes each round);",
        "both nodes set hibernate.jdbc.batch_size=100; warm-up rounds (at least %.0f s) discarded, %d measured, variants rotated"
            .formatted(options.warmupNanos() / 1e9, rounds));
    List<Pair> pairs = new ArrayList<>();
    try (RawUpsert raw = new RawUpsert(Db.H2.fresh("raw"))) {
      List<Variant> variants = new ArrayList<>();
      variants.add(Variant.single("raw", () -> raw.upsertFor(ROWS_PER_TX, nanos).perSecond()));
      for (Transport transport : Transport.values()) {
        Pair pair = Pair.start(Db.H2, transport, BATCHING);
        pairs.add(pair);
        variants.add(new Variant(transport.toString(), () -> {
          Replication.Round round = Replication.timed(pair,
              source -> Workload.bulkInsertFor(source, ROWS_PER_TX, nanos));
          return Map.of(transport + " replicated", round.replicatedPerSecond(),
              transport + " source", round.source().perSecond(),
              transport + " drain", round.drainMillis());
        }));
        variants.add(Variant.single(transport + " backlog", () -> Backlog.round(transport, BATCHING,
            source -> Workload.bulkInsertFor(source, ROWS_PER_TX, nanos)).replicatedPerSecond()));
      }
      Map<String, Summary> results = Interleaved.run(options.warmupNanos(), rounds, variants);
      Summary rawRate = results.get("raw");
      for (Transport transport : Transport.values()) {
        report.compare("replicated rows/s, 1000-row tx, H2, " + transport, results.get(transport + " replicated"),
            "rows/s", "raw JDBC MERGE", rawRate, Target.atLeast(0.5));
        report.detail("source commit rate of those transactions, " + transport, results.get(transport + " source"),
            "rows/s", "raw JDBC MERGE", rawRate, null);
        report.info("sink still applying after the source stopped, " + transport, results.get(transport + " drain"), "ms");
        report.detail("backlog applied after the sink connects (catch-up path), " + transport,
            results.get(transport + " backlog"), "rows/s", "raw JDBC MERGE", rawRate, null);
      }
    } finally {
      for (Pair pair : pairs) {
        pair.close();
      }
    }
  }
}
