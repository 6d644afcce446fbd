package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.report.Target;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pair;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.Transport;
import dev.entanglement.benchmarks.support.Workload;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Memory while a known peer is away: the source keeps changing 1,000 objects; the heap after a
 * full GC, sampled every tenth of the run, must stay flat (it may grow with distinct pending
 * objects, never with updates). One run.
 */
public final class MemoryWhileAway implements Scenario {
  private static final int OBJECTS = 1000;
  private static final long FLAT_BYTES = 32L << 20;

  @Override
  public String id() {
    return "memory";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    int total = options.pick(100_000, 1_000_000);
    report.section("6. Heap while a peer is away (H2)",
        "%,d updates of %,d objects in transactions of 100 after the sink closed;".formatted(total, OBJECTS),
        "heap used after System.gc(), sampled 11 times; flat = grows by less than 32 MB from the sample after",
        "the first tenth of the updates (the first sample, right after the sink closed, still holds what the",
        "closing sink releases lazily, so it is shown but not a baseline)");
    try (Pair pair = Pair.start(Db.H2, Transport.IN_PROCESS, java.util.Map.of())) {
      List<UUID> ids = Workload.preload(pair.source(), OBJECTS);
      pair.awaitCaughtUp();
      pair.sink().close(); // the peer is away from now on; its database stays for close()
      List<Long> samples = new ArrayList<>();
      samples.add(usedHeapAfterGc());
      int perSample = total / 10;
      for (int done = 0; done < total; done += 100) {
        int base = done;
        pair.source().inTransaction(em -> {
          for (int i = 0; i < 100; i++) {
            em.find(BenchItem.class, ids.get((base + i) % OBJECTS)).quantity = base + i;
          }
        });
        if ((done + 100) % perSample == 0) {
          samples.add(usedHeapAfterGc());
        }
      }
      List<Long> steady = samples.subList(1, samples.size());
      long baseline = steady.get(0);
      long max = steady.stream().mapToLong(Long::longValue).max().orElseThrow();
      report.note("heap used after GC, MB, every %,d updates: %s".formatted(perSample,
          samples.stream().map(b -> String.valueOf(b >> 20)).toList()));
      report.against("heap growth while a peer is away (%,d updates)".formatted(total),
          Summary.of((max - baseline) / 1048576.0), "MB", "flat bound", FLAT_BYTES / 1048576.0, Target.atMost(1.0));
    }
  }

  private static long usedHeapAfterGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
