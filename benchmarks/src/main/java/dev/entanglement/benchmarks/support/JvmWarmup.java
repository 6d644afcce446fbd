package dev.entanglement.benchmarks.support;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;

/**
 * Runs the code every scenario shares (Hibernate and H2 commits with the plugin off and on,
 * replication over both transports) before anything is measured. On the project's 2-core
 * machines a cold JVM needs 10-20 s of this work before commit rates settle (they ramp up about
 * tenfold), longer than any scenario's own warm-up rounds; without it the first scenario would
 * measure the JIT. Nothing here is reported.
 */
public final class JvmWarmup {
  private static final long SLICE_NANOS = 250_000_000L;

  private JvmWarmup() {}

  public static void run(long nanos) {
    Node plain = null;
    Pair inProcess = null;
    Pair netty = null;
    try {
      plain = Node.plain(Db.H2.fresh("warmup"), Map.of());
      inProcess = Pair.start(Db.H2, Transport.IN_PROCESS, Map.of());
      netty = Pair.start(Db.H2, Transport.NETTY, Map.of());
      List<UUID> plainIds = Workload.preload(plain, 1000);
      List<UUID> pairIds = Workload.preload(inProcess.source(), 1000);
      SplittableRandom random = new SplittableRandom(7);
      long end = System.nanoTime() + nanos;
      while (System.nanoTime() < end) {
        Workload.insertFor(plain, SLICE_NANOS);
        Workload.updateFor(plain, plainIds, SLICE_NANOS, random);
        Workload.insertFor(inProcess.source(), SLICE_NANOS);
        Workload.updateFor(inProcess.source(), pairIds, SLICE_NANOS, random);
        inProcess.awaitCaughtUp();
        Workload.insertFor(netty.source(), SLICE_NANOS);
        netty.awaitCaughtUp();
      }
    } finally {
      if (netty != null) {
        netty.close();
      }
      if (inProcess != null) {
        inProcess.close();
      }
      Nodes.closeAndDispose(plain);
    }
  }
}
