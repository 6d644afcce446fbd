package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.Interleaved;
import dev.entanglement.benchmarks.support.Interleaved.Variant;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pair;
import dev.entanglement.benchmarks.support.Percentiles;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.Transport;
import dev.entanglement.hibernate.Entanglement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * What a change of another node's object costs: the sink calls {@code update()} on objects the
 * source owns, which travels as a durable update request to the source, is decided there in its
 * own transaction and completes once the sink holds the owner's result. Measured one at a time
 * (round-trip latency and rate) and {@value #IN_FLIGHT} in flight (rate), against the owner
 * changing its own objects through the same {@code update()} call (a local transaction), in the
 * same rounds.
 */
public final class UpdateRequests implements Scenario {
  private static final int OBJECTS = 200;
  private static final int IN_FLIGHT = 64;

  @Override
  public String id() {
    return "requests";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    long nanos = options.millis(800, 3000);
    int rounds = options.pick(2, 4);
    report.section("7. Update requests (a change of another node's object), H2 in memory, " + Transport.NETTY,
        "%d objects owned by the source; each round runs for %.1f s: the sink's update() calls on them, one at"
            .formatted(OBJECTS, nanos / 1e9),
        "a time (latency from the call to the completed future: the request is stored, routed, decided and",
        "written by the owner, and its result applied at the sink) and %d in flight; reference: the owner's own"
            .formatted(IN_FLIGHT),
        "update() calls on the same objects (one local transaction each); warm-up discarded, %d rounds".formatted(rounds));
    try (Pair pair = Pair.start(Db.H2, Transport.NETTY, Map.of())) {
      List<UUID> ids = new ArrayList<>();
      pair.source().inTransaction(em -> {
        for (int i = 0; i < OBJECTS; i++) {
          BenchItem item = new BenchItem(UUID.randomUUID(), i);
          em.persist(item);
          ids.add(item.id);
        }
      });
      pair.awaitCaughtUp();
      Entanglement owner = pair.source().entanglement();
      Entanglement requester = pair.sink().entanglement();
      long[] counter = {0};
      List<Variant> variants = List.of(
          Variant.single("owner", () -> sequential(owner, ids, nanos, counter, null)),
          new Variant("one at a time", () -> {
            List<Long> latencies = new ArrayList<>();
            double rate = sequential(requester, ids, nanos, counter, latencies);
            Percentiles p = new Percentiles(latencies.stream().mapToLong(Long::longValue).toArray());
            return Map.of("sequential", rate, "p50", p.at(50) / 1e3, "p99", p.at(99) / 1e3);
          }),
          Variant.single("in flight", () -> pipelined(requester, ids, nanos, counter)));
      Map<String, Summary> results = Interleaved.run(options.warmupNanos(), rounds, variants);
      Summary local = results.get("owner");
      report.figure("owner's own update() calls", local, "updates/s");
      report.compare("update requests, one at a time", results.get("sequential"), "requests/s", "owner's own",
          local, null);
      report.info("request round trip p50", results.get("p50"), "us");
      report.info("request round trip p99", results.get("p99"), "us");
      report.compare("update requests, %d in flight".formatted(IN_FLIGHT), results.get("in flight"), "requests/s",
          "owner's own", local, null);
    }
  }

  private static double sequential(Entanglement node, List<UUID> ids, long nanos, long[] counter, List<Long> latencies)
      throws Exception {
    long start = System.nanoTime();
    long end = start + nanos;
    int done = 0;
    while (System.nanoTime() < end) {
      long n = ++counter[0];
      UUID id = ids.get((int) (n % ids.size()));
      long t0 = System.nanoTime();
      node.update(BenchItem.class, id, item -> item.touch(n)).get(30, TimeUnit.SECONDS);
      if (latencies != null) {
        latencies.add(System.nanoTime() - t0);
      }
      done++;
    }
    return done / ((System.nanoTime() - start) / 1e9);
  }

  private static double pipelined(Entanglement node, List<UUID> ids, long nanos, long[] counter) throws Exception {
    long start = System.nanoTime();
    long end = start + nanos;
    int done = 0;
    while (System.nanoTime() < end) {
      List<CompletableFuture<BenchItem>> batch = new ArrayList<>(IN_FLIGHT);
      for (int i = 0; i < IN_FLIGHT; i++) {
        long n = ++counter[0];
        // distinct objects in flight (IN_FLIGHT < OBJECTS): requests for one object queue behind each other
        UUID id = ids.get((int) (n % ids.size()));
        batch.add(node.update(BenchItem.class, id, item -> item.touch(n)));
      }
      CompletableFuture.allOf(batch.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
      done += batch.size();
    }
    return done / ((System.nanoTime() - start) / 1e9);
  }
}
