package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.report.Target;
import dev.entanglement.benchmarks.support.ArrivalTracker;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.DbSettings;
import dev.entanglement.benchmarks.support.GcTime;
import dev.entanglement.benchmarks.support.Interleaved;
import dev.entanglement.benchmarks.support.Interleaved.Variant;
import dev.entanglement.benchmarks.support.Node;
import dev.entanglement.benchmarks.support.Nodes;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pacer;
import dev.entanglement.benchmarks.support.Percentiles;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.ThreadCpu;
import dev.entanglement.benchmarks.support.Workload;
import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.hibernate.EntanglementSettings;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Fan-out (issue 15), every node in this JVM on in-process gRPC with its own in-memory H2:
 *
 * <ul>
 *   <li>Star: one owner and {@value #STAR_PEERS} peers dialing it. The owner commits single-row
 *       inserts as fast as one thread can for a window; each peer's replicated rate is rows /
 *       (first commit until that peer answered the last one), as in 2a. Compared with one owner
 *       and one peer under the same load, in interleaved rounds of the same run.
 *   <li>Tree: one owner, {@value #GATEWAYS} gateways dialing it, {@value #LEAVES_PER_GATEWAY}
 *       leaves dialing each gateway (and nothing else: the gateway relays). The owner commits
 *       single-row inserts at a fixed rate; for each, when every gateway and every leaf holds it
 *       (found by primary key on a connection of its own, see {@link ArrivalTracker}).
 * </ul>
 *
 * The JVM's threads and heap with all nodes up are reported too: a node is a Hibernate
 * session factory, a pool, an H2 database and the plugin's threads and channels.
 */
public final class FanOut implements Scenario {
  static final int STAR_PEERS = 100;
  static final int GATEWAYS = 10;
  static final int LEAVES_PER_GATEWAY = 10;
  /**
   * The tree's commit rate: modest, so that the figures are the path's delay, not a backlog. Each
   * change is applied 110 times in this JVM; at 20/s (2,200 applies/s, about what the star showed
   * the 2 cores can apply) a backlog of seconds built up.
   */
  static final int TREE_RATE = 5;
  private static final Duration CAUGHT_UP_TIMEOUT = Duration.ofMinutes(5);

  @Override
  public String id() {
    return "fanout";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    star(options, report);
    tree(options, report);
  }

  private void star(Options options, Report report) throws Exception {
    long nanos = options.millis(1000, 3000);
    int rounds = options.pick(2, 3);
    report.section("10a. Fan-out, star: 1 owner and %d peers, H2 in memory each, in-process gRPC, one JVM".formatted(STAR_PEERS),
        "each round: the owner commits single-row inserts as fast as one thread can for %.1f s; a peer's rate ="
            .formatted(nanos / 1e9),
        "rows / (first commit -> that peer answered the last one, Entanglement.caughtUp); every peer's row count checked;",
        "reference: 1 owner + 1 peer, same load, interleaved rounds; warm-up rounds (at least %.0f s) discarded, %d measured"
            .formatted(options.warmupNanos() / 1e9, rounds),
        "all %d nodes share the machine's %d cores".formatted(STAR_PEERS + 3, Runtime.getRuntime().availableProcessors()));
    Footprint base = Footprint.take();
    List<Node> all = new ArrayList<>();
    try {
      Node singleOwner = listening("single-owner", all);
      Node singlePeer = dialing("single-peer", singleOwner, all);
      Node owner = listening("owner", all);
      long startup = System.nanoTime();
      List<Node> peers = new ArrayList<>();
      for (int i = 0; i < STAR_PEERS; i++) {
        peers.add(dialing("peer-%03d".formatted(i), owner, all));
      }
      awaitLinks(singleOwner, List.of(singlePeer));
      awaitLinks(owner, peers);
      double startupSeconds = (System.nanoTime() - startup) / 1e9;
      Footprint up = Footprint.take();
      ManagementFactory.getThreadMXBean().resetPeakThreadCount();
      double[] idle = idleCpu(options.millis(2000, 5000), all.size());
      List<Variant> variants = List.of(
          new Variant("single", () -> starRound(singleOwner, List.of(singlePeer), nanos, "single")),
          new Variant("star", () -> starRound(owner, peers, nanos, "star")));
      Map<String, Summary> results = Interleaved.run(options.warmupNanos(), rounds, variants);
      Footprint loaded = Footprint.take();
      Summary single = results.get("single min");
      report.compare("star: slowest peer's replicated rate (each peer's: the target is on the minimum)",
          results.get("star min"), "rows/s", "1 owner + 1 peer", single, Target.atLeast(0.5));
      report.detail("star: median peer's replicated rate", results.get("star p50"), "rows/s", "1 owner + 1 peer",
          single, null);
      report.detail("star: fastest peer's replicated rate", results.get("star max"), "rows/s", "1 owner + 1 peer",
          single, null);
      report.detail("star: all peers together (rows applied per second, sum)", results.get("star sum"), "rows/s",
          "1 owner + 1 peer", single, null);
      report.detail("star: owner's commit rate while fanning out", results.get("star owner"), "tx/s",
          "owner with 1 peer", results.get("single owner"), null);
      report.info("star: slowest peer still applying after the owner stopped", results.get("star drain"), "ms");
      report.info("1 owner + 1 peer: peer still applying after the owner stopped", results.get("single drain"), "ms");
      report.info("star: GC time during a round (all nodes share the heap)", results.get("star gc"), "ms");
      for (String variant : List.of("star", "single")) {
        String label = variant.equals("star") ? "star" : "1 owner + 1 peer";
        report.info(label + ": CPU per row, owner's committing thread", results.get(variant + " cpu commit"), "us");
        report.info(label + ": CPU per row, owner's plugin threads (sending to every peer)",
            results.get(variant + " cpu owner"), "us");
        report.info(label + ": CPU per row and peer, owner's plugin threads", results.get(variant + " cpu owner per peer"), "us");
        report.info(label + ": CPU per row and peer, the peer's plugin threads (receive + apply)",
            results.get(variant + " cpu peer"), "us");
        report.info(label + ": CPU per row, other threads (JIT, gRPC timers, harness)", results.get(variant + " cpu other"), "us");
        report.info(label + ": process CPU busy during the round (GC, JIT included; 1.0 = every core)",
            results.get(variant + " cpu busy"), "");
      }
      reportFootprint(report, "star (%d nodes)".formatted(all.size()), base, up, loaded, startupSeconds);
      reportIdle(report, "star (%d nodes)".formatted(all.size()), idle);
    } finally {
      closeAll(all);
    }
  }

  /** One star round: returns the slowest, median and fastest peer's rate, their sum, the owner's rate. */
  private static Map<String, Double> starRound(Node owner, List<Node> peers, long nanos, String key) throws Exception {
    int n = peers.size();
    long[] before = new long[n];
    for (int i = 0; i < n; i++) {
      before[i] = peers.get(i).countItems();
    }
    long gcBefore = GcTime.totalMillis();
    ThreadCpu cpuBefore = ThreadCpu.take();
    long committer = Thread.currentThread().getId();
    long start = System.nanoTime();
    Workload.Done done = Workload.insertFor(owner, nanos);
    long[] finished = new long[n];
    CompletableFuture<?>[] answered = new CompletableFuture<?>[n];
    for (int i = 0; i < n; i++) {
      int peer = i;
      // stamped by the thread that completes it: when that peer answered the owner's last change
      answered[i] = owner.entanglement().caughtUp(peers.get(i).name())
          .whenComplete((report, failure) -> finished[peer] = System.nanoTime());
    }
    CompletableFuture.allOf(answered).get(CAUGHT_UP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    long wall = System.nanoTime() - start;
    ThreadCpu cpuAfter = ThreadCpu.take();
    long gcMillis = GcTime.totalMillis() - gcBefore;
    String ownerThreads = "entanglement-" + owner.name() + "-";
    Map<String, Long> cpu = cpuAfter.since(cpuBefore, thread -> thread.getKey() == committer ? "commit"
        : thread.getValue().startsWith(ownerThreads) ? "owner"
        : peers.stream().anyMatch(p -> thread.getValue().startsWith("entanglement-" + p.name() + "-")) ? "peers"
        : "other");
    double[] rates = new double[n];
    long last = 0;
    for (int i = 0; i < n; i++) {
      long arrived = peers.get(i).countItems() - before[i];
      if (arrived != done.count()) {
        throw new IllegalStateException("%s has %,d new rows, the owner inserted %,d"
            .formatted(peers.get(i).name(), arrived, done.count()));
      }
      rates[i] = done.count() / ((finished[i] - start) / 1e9);
      last = Math.max(last, finished[i]);
    }
    Arrays.sort(rates);
    Map<String, Double> figures = new HashMap<>();
    figures.put(key + " min", rates[0]);
    figures.put(key + " p50", rates[(n - 1) / 2]);
    figures.put(key + " max", rates[n - 1]);
    figures.put(key + " sum", Arrays.stream(rates).sum());
    figures.put(key + " owner", done.perSecond());
    figures.put(key + " drain", (last - start - done.nanos()) / 1e6);
    figures.put(key + " gc", (double) gcMillis);
    // where the CPU went, per row the owner committed (peers: per row and peer)
    double rows = done.count();
    figures.put(key + " cpu commit", cpu.getOrDefault("commit", 0L) / 1e3 / rows);
    figures.put(key + " cpu owner", cpu.getOrDefault("owner", 0L) / 1e3 / rows);
    figures.put(key + " cpu owner per peer", cpu.getOrDefault("owner", 0L) / 1e3 / rows / n);
    figures.put(key + " cpu peer", cpu.getOrDefault("peers", 0L) / 1e3 / rows / n);
    figures.put(key + " cpu other", cpu.getOrDefault("other", 0L) / 1e3 / rows);
    figures.put(key + " cpu busy", cpuAfter.process() < 0 ? Double.NaN
        : (cpuAfter.process() - cpuBefore.process()) / (double) wall / Runtime.getRuntime().availableProcessors());
    return figures;
  }

  private void tree(Options options, Report report) throws Exception {
    int warm = options.pick(15, 40);
    int measured = options.pick(60, 300);
    report.section("10b. Fan-out, tree: 1 owner, %d gateways, %d leaves (%d per gateway, connected only to it), H2 in memory, in-process gRPC"
            .formatted(GATEWAYS, GATEWAYS * LEAVES_PER_GATEWAY, LEAVES_PER_GATEWAY),
        "the owner inserts 1 row per transaction at %d/s (absolute deadlines); t0 = when commit() returned;".formatted(TREE_RATE),
        "a node holds the row when a query on its own JDBC connection finds it by primary key (an H2 trigger tells the",
        "poller which database wrote which row, so it queries only those; resolution as in 3: about 50-80 us + one query);",
        "%d changes discarded as warm-up, %d measured; hops: owner commit -> gateway holds it, gateway holds it -> leaf holds it"
            .formatted(warm, measured));
    Footprint base = Footprint.take();
    List<Node> all = new ArrayList<>();
    try {
      long startup = System.nanoTime();
      Node owner = listening("owner", all);
      List<Node> gateways = new ArrayList<>();
      List<List<Node>> leaves = new ArrayList<>();
      for (int g = 0; g < GATEWAYS; g++) {
        Map<String, String> settings = new HashMap<>(dialSettings(owner));
        settings.putAll(listenSettings());
        Node gateway = Node.start("gw-%02d".formatted(g), Db.H2.fresh("gw"), settings);
        all.add(gateway);
        gateways.add(gateway);
        List<Node> mine = new ArrayList<>();
        for (int l = 0; l < LEAVES_PER_GATEWAY; l++) {
          mine.add(dialing("leaf-%02d-%02d".formatted(g, l), gateway, all));
        }
        leaves.add(mine);
      }
      awaitLinks(owner, gateways);
      for (int g = 0; g < GATEWAYS; g++) {
        awaitLinks(gateways.get(g), leaves.get(g));
      }
      double startupSeconds = (System.nanoTime() - startup) / 1e9;
      Footprint up = Footprint.take();
      ManagementFactory.getThreadMXBean().resetPeakThreadCount();
      double[] idle = idleCpu(options.millis(2000, 5000), all.size());

      // databases 0..GATEWAYS-1 are the gateways, then the leaves gateway by gateway
      List<DbSettings> databases = new ArrayList<>();
      gateways.forEach(n -> databases.add(n.db()));
      leaves.forEach(list -> list.forEach(n -> databases.add(n.db())));
      int total = warm + measured;
      UUID[] ids = new UUID[total];
      for (int i = 0; i < total; i++) {
        ids[i] = UUID.randomUUID();
      }
      AtomicLongArray committedAt = new AtomicLongArray(total);
      long[][] latencies;
      long gcBefore = GcTime.totalMillis();
      ThreadCpu cpuBefore = ThreadCpu.take();
      long wallStart = System.nanoTime();
      try (ArrivalTracker tracker = new ArrivalTracker(databases, ids, committedAt)) {
        tracker.start();
        Pacer pacer = new Pacer(TREE_RATE);
        for (int i = 0; i < total; i++) {
          pacer.awaitNext();
          BenchItem item = new BenchItem(ids[i], i);
          owner.inTransaction(em -> em.persist(item));
          committedAt.set(i, System.nanoTime());
        }
        latencies = tracker.await(Duration.ofMinutes(2));
      }
      long wall = System.nanoTime() - wallStart;
      ThreadCpu cpuAfter = ThreadCpu.take();
      long gcMillis = GcTime.totalMillis() - gcBefore;
      Footprint loaded = Footprint.take();
      Map<String, Long> cpu = cpuAfter.since(cpuBefore, thread -> thread.getValue().startsWith("entanglement-owner-")
          ? "owner" : thread.getValue().startsWith("entanglement-gw-") ? "gateways"
          : thread.getValue().startsWith("entanglement-leaf-") ? "leaves" : "other");

      long[] everyLeaf = new long[measured];
      long[] everyGateway = new long[measured];
      long[] gatewayHop = new long[measured * GATEWAYS];
      long[] leafHop = new long[measured * GATEWAYS * LEAVES_PER_GATEWAY];
      int leafSamples = 0;
      for (int i = warm; i < total; i++) {
        int c = i - warm;
        for (int g = 0; g < GATEWAYS; g++) {
          long atGateway = latencies[g][i];
          gatewayHop[c * GATEWAYS + g] = atGateway;
          everyGateway[c] = Math.max(everyGateway[c], atGateway);
          for (int l = 0; l < LEAVES_PER_GATEWAY; l++) {
            long atLeaf = latencies[GATEWAYS + g * LEAVES_PER_GATEWAY + l][i];
            everyLeaf[c] = Math.max(everyLeaf[c], atLeaf);
            leafHop[leafSamples++] = atLeaf - atGateway;
          }
        }
      }
      percentiles(report, "tree: owner commit -> every leaf holds it", everyLeaf, true);
      percentiles(report, "tree: owner commit -> every gateway holds it", everyGateway, false);
      percentiles(report, "tree hop 1: owner commit -> a gateway holds it (over gateways x changes)", gatewayHop, false);
      percentiles(report, "tree hop 2: gateway holds it -> its leaf holds it (over leaves x changes)", leafHop, false);
      report.info("tree: GC time while the changes were committed and delivered", Summary.of(gcMillis), "ms");
      // per change, net of what the nodes spend when idle (measured above, per node and second)
      double idleNanosPerNode = idle[1] * 1e6 * (wall / 1e9);
      report.info("tree: CPU per change, owner's plugin threads (net of idle)",
          Summary.of((cpu.getOrDefault("owner", 0L) - idleNanosPerNode) / 1e3 / total), "us");
      report.info("tree: CPU per change and gateway, gateways' plugin threads: apply + relay to 10 leaves (net of idle)",
          Summary.of((cpu.getOrDefault("gateways", 0L) - idleNanosPerNode * GATEWAYS) / 1e3 / total / GATEWAYS), "us");
      int leafCount = GATEWAYS * LEAVES_PER_GATEWAY;
      report.info("tree: CPU per change and leaf, leaves' plugin threads: receive + apply (net of idle)",
          Summary.of((cpu.getOrDefault("leaves", 0L) - idleNanosPerNode * leafCount) / 1e3 / total / leafCount), "us");
      report.info("tree: process CPU busy while committing and delivering (1.0 = every core)",
          Summary.of(cpuAfter.process() < 0 ? Double.NaN
              : (cpuAfter.process() - cpuBefore.process()) / (double) wall / Runtime.getRuntime().availableProcessors()), "");
      reportFootprint(report, "tree (%d nodes)".formatted(all.size()), base, up, loaded, startupSeconds);
      reportIdle(report, "tree (%d nodes)".formatted(all.size()), idle);
    } finally {
      closeAll(all);
    }
  }

  private static void percentiles(Report report, String name, long[] samples, boolean first) {
    Percentiles p = new Percentiles(samples);
    if (first) {
      report.figure(name + " p50", Summary.of(p.at(50) / 1e3), "us");
    } else {
      report.info(name + " p50", Summary.of(p.at(50) / 1e3), "us");
    }
    report.info(name + " p99", Summary.of(p.at(99) / 1e3), "us");
    report.info(name + " max", Summary.of(p.max() / 1e3), "us");
  }

  private static Map<String, String> listenSettings() {
    return Map.of(EntanglementSettings.LISTEN, "inprocess:fanout-" + UUID.randomUUID());
  }

  private static Map<String, String> dialSettings(Node server) {
    return Map.of(EntanglementSettings.PEERS, server.address());
  }

  private static Node listening(String name, List<Node> all) {
    Node node = Node.start(name, Db.H2.fresh(name.replace('-', '_')), listenSettings());
    all.add(node);
    return node;
  }

  private static Node dialing(String name, Node server, List<Node> all) {
    Node node = Node.start(name, Db.H2.fresh(name.replace('-', '_')), dialSettings(server));
    all.add(node);
    return node;
  }

  /** Waits until the server and each of its clients see their link open. */
  private static void awaitLinks(Node server, List<Node> clients) {
    for (Node client : clients) {
      client.awaitConnected(server.name());
      server.awaitConnected(client.name());
    }
  }

  /** Closes the clients before their servers (the reverse of the start order), then frees the databases. */
  private static void closeAll(List<Node> all) {
    List<Node> reversed = new ArrayList<>(all);
    java.util.Collections.reverse(reversed);
    Nodes.closeAndDispose(reversed.toArray(Node[]::new));
  }

  private static void reportFootprint(Report report, String what, Footprint base, Footprint up, Footprint loaded,
      double startupSeconds) {
    report.info(what + ": time to start every node and open every link", Summary.of(startupSeconds), "s");
    report.info(what + ": JVM threads with every node up (before: %d)".formatted(base.threads()),
        Summary.of(up.threads()), "threads");
    report.info(what + ": JVM peak threads while measuring", Summary.of(loaded.peakThreads()), "threads");
    report.info(what + ": heap used after GC, nodes up, no rows (before: %d MB)".formatted(base.heapMb()),
        Summary.of(up.heapMb()), "MB");
    report.info(what + ": heap used after GC at the end, rows included", Summary.of(loaded.heapMb()), "MB");
    report.info(what + ": max heap", Summary.of(Runtime.getRuntime().maxMemory() >> 20), "MB");
  }

  /**
   * What the nodes cost while nothing is committed (heartbeats, leases, timers): the process's
   * CPU busy fraction (1.0 = every core) and the plugin threads' CPU per node, in ms per second.
   */
  private static double[] idleCpu(long nanos, int nodes) {
    ThreadCpu before = ThreadCpu.take();
    long start = System.nanoTime();
    long end = start + nanos;
    for (long now = start; now < end; now = System.nanoTime()) {
      java.util.concurrent.locks.LockSupport.parkNanos(end - now); // a measured window, not a wait for a condition
    }
    long wall = System.nanoTime() - start;
    ThreadCpu after = ThreadCpu.take();
    long plugin = after.since(before, t -> t.getValue().startsWith("entanglement-") ? "plugin" : "other")
        .getOrDefault("plugin", 0L);
    double busy = after.process() < 0 ? Double.NaN
        : (after.process() - before.process()) / (double) wall / Runtime.getRuntime().availableProcessors();
    return new double[] {busy, plugin / 1e6 / nodes / (wall / 1e9)};
  }

  private static void reportIdle(Report report, String what, double[] idle) {
    report.info(what + " idle, no commits: process CPU busy (1.0 = every core)", Summary.of(idle[0]), "");
    report.info(what + " idle, no commits: plugin threads' CPU per node", Summary.of(idle[1]), "ms/s");
  }

  /** The JVM's live threads and heap used after a full GC. */
  private record Footprint(int threads, int peakThreads, long heapMb) {
    static Footprint take() {
      System.gc();
      var threads = ManagementFactory.getThreadMXBean();
      return new Footprint(threads.getThreadCount(), threads.getPeakThreadCount(),
          ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() >> 20);
    }
  }
}
