package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.report.Target;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.DbSettings;
import dev.entanglement.benchmarks.support.Node;
import dev.entanglement.benchmarks.support.Nodes;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pair;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.Workload;
import dev.entanglement.hibernate.EntanglementSettings;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Catch-up after a partition: while the sink is down, every one of N objects changes 10 times;
 * when it comes back, the source must send each changed object once (at most 1.01 x N changes),
 * in its latest state. One run: the figure is a count.
 */
public final class CatchUpAfterPartition implements Scenario {
  private static final int CHANGES_PER_OBJECT = 10;

  @Override
  public String id() {
    return "catchup";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    int objects = options.pick(10_000, 100_000);
    report.section("5. Catch-up after a partition (H2, in-process)",
        "%,d objects change %d times each (transactions of 1000 updates) while the sink is closed;"
            .formatted(objects, CHANGES_PER_OBJECT),
        "then the sink restarts on the same database; counted: changes the source sent on the new stream");
    String address = "inprocess:bench-catchup-" + UUID.randomUUID();
    DbSettings sinkDb = Db.H2.fresh("sink");
    Map<String, String> sinkSettings = Map.of(EntanglementSettings.PEERS, address, "hibernate.hbm2ddl.auto", "update");
    Node source = null;
    Node sink = null;
    try {
      source = Node.start(Pair.SOURCE, Db.H2.fresh("source"), Map.of(EntanglementSettings.LISTEN, address));
      sink = Node.start(Pair.SINK, sinkDb, sinkSettings);
      source.awaitConnected(Pair.SINK);
      List<UUID> ids = Workload.preload(source, objects);
      source.awaitCaughtUp(Pair.SINK);
      sink.close();
      long start = System.nanoTime();
      changeAll(source, ids);
      report.note("%,d changes committed in %.1f s while the sink was away".formatted(
          (long) objects * CHANGES_PER_OBJECT, (System.nanoTime() - start) / 1e9));
      long restart = System.nanoTime();
      sink = Node.start(Pair.SINK, sinkDb, sinkSettings);
      source.awaitConnected(Pair.SINK);
      source.awaitCaughtUp(Pair.SINK);
      double seconds = (System.nanoTime() - restart) / 1e9;
      long sent = source.streaming(Pair.SINK).changesSent();
      long stale = sink.queryLong("select count(*) from BenchItem where quantity <> " + CHANGES_PER_OBJECT);
      report.against("catch-up changes sent for %,d changed objects".formatted(objects), Summary.of(sent), "changes",
          "objects", objects, Target.atMost(1.01));
      report.info("catch-up time, sink restart to caught up", Summary.of(seconds), "s");
      report.info("objects not in their latest state after catch-up (must be 0)", Summary.of(stale), "objects");
      if (stale != 0) {
        throw new IllegalStateException(stale + " objects are stale after catch-up");
      }
    } finally {
      Nodes.closeAndDispose(sink, source);
    }
  }

  private static void changeAll(Node source, List<UUID> ids) {
    for (int round = 1; round <= CHANGES_PER_OBJECT; round++) {
      int value = round;
      for (int from = 0; from < ids.size(); from += 1000) {
        List<UUID> slice = ids.subList(from, Math.min(ids.size(), from + 1000));
        source.inTransaction(em -> em.createQuery("from BenchItem where id in :ids", BenchItem.class)
            .setParameter("ids", slice).getResultList().forEach(item -> item.quantity = value));
      }
    }
  }
}
