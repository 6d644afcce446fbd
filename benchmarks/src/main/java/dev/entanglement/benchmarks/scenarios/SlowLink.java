package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.report.Target;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pacer;
import dev.entanglement.benchmarks.support.Pair;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.Transport;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.PeerStatus;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Latest state over a slow link: 10,000 updates/s over 100 objects with the source limited to
 * 64 KB/s towards its peer. Bytes sent must stay within the limit (plus the token bucket's burst),
 * and once updates stop the sink must converge within 1.5x the theoretical minimum: the pending
 * state (100 objects) at the link's bandwidth plus one round trip. One run: the figures are byte
 * counts and one convergence time, not rates that need rounds.
 */
public final class SlowLink implements Scenario {
  private static final long LIMIT = 64 * 1024;
  private static final int OBJECTS = 100;
  private static final int UPDATES_PER_SECOND = 10_000;
  private static final Duration CONVERGE_TIMEOUT = Duration.ofSeconds(60);

  @Override
  public String id() {
    return "slowlink";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    int seconds = options.pick(3, 8);
    report.section("4. Latest state over a 64 KB/s link (H2, in-process, bandwidth limit at the source)",
        "%,d updates/s over %d objects for %d s, paced; then the time until the sink holds the latest state"
            .formatted(UPDATES_PER_SECOND, OBJECTS, seconds),
        "(polled: sum(quantity) equal on both sides, every ~1 ms); one run");
    try (Pair pair = Pair.start(Db.H2, Transport.IN_PROCESS,
        Map.of(EntanglementSettings.BANDWIDTH_LIMIT, String.valueOf(LIMIT)))) {
      List<UUID> ids = new java.util.ArrayList<>();
      pair.source().inTransaction(em -> {
        for (int i = 0; i < OBJECTS; i++) {
          BenchItem item = new BenchItem(UUID.randomUUID(), i);
          em.persist(item);
          ids.add(item.id);
        }
      });
      pair.awaitCaughtUp();
      PeerStatus before = pair.source().streaming(Pair.SINK);
      int updates = UPDATES_PER_SECOND * seconds;
      Pacer pacer = new Pacer(UPDATES_PER_SECOND);
      long start = System.nanoTime();
      for (int i = 0; i < updates; i++) {
        pacer.awaitNext();
        UUID id = ids.get(i % OBJECTS);
        int value = i;
        pair.source().inTransaction(em -> em.find(BenchItem.class, id).quantity = value);
      }
      long stopped = System.nanoTime();
      double converge = awaitConverged(pair, stopped);
      PeerStatus after = pair.source().streaming(Pair.SINK);
      long bytes = after.bytesSent() - before.bytesSent();
      long changes = after.changesSent() - before.changesSent();
      double window = (stopped - start) / 1e9 + converge;
      double budget = LIMIT * window + LIMIT / 4.0; // the limit over the window plus the bucket's burst
      double stateBytes = OBJECTS * (double) bytes / Math.max(1, changes);
      double minimum = stateBytes / LIMIT + 0.001; // + one in-process round trip, generously 1 ms
      report.note("%,d updates in %.2f s (offered %,d/s)".formatted(updates, (stopped - start) / 1e9, UPDATES_PER_SECOND));
      report.against("bytes/s sent over the 64 KB/s link", Summary.of(bytes / window), "B/s", "limit", LIMIT, null);
      report.against("bytes sent vs budget (limit x time + 1/4 s burst)", Summary.of(bytes), "B", "budget", budget,
          Target.atMost(1.0));
      report.against("changes sent for the updates (coalesced)", Summary.of(changes), "changes", "updates", updates, null);
      report.against("convergence after updates stop", Summary.of(converge * 1000), "ms",
          "minimum (state / bandwidth + RTT)", minimum * 1000, Target.atMost(1.5));
    }
  }

  /** Seconds from {@code stopped} until the sink's state equals the source's. */
  private static double awaitConverged(Pair pair, long stopped) {
    String sum = "select sum(quantity) from BenchItem";
    long expected = pair.source().queryLong(sum);
    long deadline = stopped + CONVERGE_TIMEOUT.toNanos();
    while (pair.sink().queryLong(sum) != expected) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the sink did not converge within " + CONVERGE_TIMEOUT);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
    return (System.nanoTime() - stopped) / 1e9;
  }
}
