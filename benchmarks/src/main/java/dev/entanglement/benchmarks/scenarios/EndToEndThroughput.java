package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.report.Target;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.Interleaved;
import dev.entanglement.benchmarks.support.Interleaved.Variant;
import dev.entanglement.benchmarks.support.Node;
import dev.entanglement.benchmarks.support.Nodes;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pair;
import dev.entanglement.benchmarks.support.Replication;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.Transport;
import dev.entanglement.benchmarks.support.Workload;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Whether replication keeps up with an application committing single-row transactions as fast as
 * one thread can (H2 in memory): the rate at which the sink has applied them, from the first
 * commit to the last acknowledgement, against the source's own commit rate when nothing
 * replicates (a node with no peer), measured in the same rounds.
 */
public final class EndToEndThroughput implements Scenario {
  @Override
  public String id() {
    return "throughput";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    long nanos = options.millis(800, 3000);
    int rounds = options.pick(2, 4);
    report.section("2a. End-to-end throughput, H2 in memory, single-row inserts, one committing thread",
        "each round: the source commits for %.1f s, then waits until the sink answered everything;".formatted(nanos / 1e9),
        "replicated rate = rows / (first commit -> last acknowledgement); the sink's row count is checked;",
        "warm-up rounds (at least %.0f s) discarded, %d measured, variants rotated; both nodes share the machine's cores"
            .formatted(options.warmupNanos() / 1e9, rounds));
    Node off = null;
    Node alone = null;
    List<Pair> pairs = new ArrayList<>();
    try {
      off = Node.plain(Db.H2.fresh("off"), Map.of());
      alone = Node.start("alone", Db.H2.fresh("alone"), Map.of());
      Node offNode = off;
      Node aloneNode = alone;
      List<Variant> variants = new ArrayList<>();
      variants.add(Variant.single("off", () -> Workload.insertFor(offNode, nanos).perSecond()));
      variants.add(Variant.single("alone", () -> Workload.insertFor(aloneNode, nanos).perSecond()));
      for (Transport transport : Transport.values()) {
        Pair pair = Pair.start(Db.H2, transport, Map.of());
        pairs.add(pair);
        variants.add(new Variant(transport.toString(), () -> {
          Replication.Round round = Replication.timed(pair, source -> Workload.insertFor(source, nanos));
          return Map.of(transport + " replicated", round.replicatedPerSecond(),
              transport + " source", round.source().perSecond(),
              transport + " drain", round.drainMillis());
        }));
      }
      Map<String, Summary> results = Interleaved.run(options.warmupNanos(), rounds, variants);
      Summary alone1 = results.get("alone");
      for (Transport transport : Transport.values()) {
        report.compare("replicated 1-row tx/s, H2, " + transport, results.get(transport + " replicated"),
            "changes/s", "source alone", alone1, Target.atLeast(0.9));
        report.detail("source commit rate while replicating, " + transport, results.get(transport + " source"),
            "tx/s", "source alone", alone1, null);
        report.info("sink still applying after the source stopped, " + transport, results.get(transport + " drain"), "ms");
      }
      report.detail("source alone (plugin on, no peer) vs plugin off", alone1, "tx/s", "plugin off",
          results.get("off"), null);
    } finally {
      for (Pair pair : pairs) {
        pair.close();
      }
      Nodes.closeAndDispose(alone, off);
    }
  }
}
