package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.model.WebItem;
import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.GcTime;
import dev.entanglement.benchmarks.support.Interleaved;
import dev.entanglement.benchmarks.support.Interleaved.Variant;
import dev.entanglement.benchmarks.support.Node;
import dev.entanglement.benchmarks.support.Nodes;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pacer;
import dev.entanglement.benchmarks.support.Percentiles;
import dev.entanglement.benchmarks.support.RawWebFanout;
import dev.entanglement.benchmarks.support.Subsets;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.ThreadCpu;
import dev.entanglement.benchmarks.support.WebClients;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.PeerStatus;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.Value;
import jakarta.persistence.EntityManager;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Browsers (issue 16): WebSocket clients of the real {@code @entanglement/client} package, in Node
 * processes, connected to one node's web endpoint ({@code entanglement.web.listen}) under a policy
 * that gives each a different subset ({@link Subsets}). Measures, at {@value #RATE} changes/s:
 * change-to-client latency (commit returned at the node -> the client's store shows it, wall
 * clocks of the same machine), the server's memory and threads per client, and what a client that
 * stops reading costs (outbox, heap, the others' latency, its catch-up when it reads again).
 * Compared, in interleaved rounds, with a bare Netty WebSocket server in the same JVM writing a
 * pre-encoded frame per change to the same subsets ({@link RawWebFanout}), read by bare {@code ws}
 * sockets in the same Node processes.
 */
public final class Browsers implements Scenario {
  static final int RATE = 100;
  /** Objects 0 .. OBJECTS-1; a change picks one at random (seeded). */
  static final int OBJECTS = 1000;
  /** The client that stops reading (in the first process). */
  static final int STALLED = 7;
  private static final int MAX_CHANGES = 200_000;
  private static final Duration QUIET_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration CONNECT_TIMEOUT = Duration.ofMinutes(3);
  private static final String ENT = "entanglement";
  private static final String RAW = "raw";

  private final long[] committedAt = new long[MAX_CHANGES];
  private final int[] objectOf = new int[MAX_CHANGES];
  private final long[] latest = new long[OBJECTS];
  /** Rounds run so far per variant: round r of each variant changes the same objects in the same order. */
  private final Map<String, Integer> roundsRun = new HashMap<>();
  private int nextChange;

  @Override
  public String id() {
    return "browsers";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    int clients = Integer.getInteger("bench.browsers.clients", options.pick(200, 1000));
    int processes = Integer.getInteger("bench.browsers.processes", options.pick(2, 4));
    long roundNanos = options.millis(3000, 10000);
    int rounds = options.pick(1, 3);
    long stallNanos = options.millis(6000, 30000);
    Path script = WebClients.script();
    Path logs = Files.createTempDirectory("entanglement-bench-browsers");
    report.section("11. Browsers: %d WebSocket clients (@entanglement/client in %d Node processes) on one node, H2 in memory"
            .formatted(clients, processes),
        "policy: client c sees object k when k < %d (shared by all) or k %% %d == c %% %d; %d objects, so a change goes to"
            .formatted(Subsets.SHARED, Subsets.GROUPS, Subsets.GROUPS, OBJECTS),
        "%d clients (a group object) or all %d (a shared one); the node commits %d changes/s, each to a random object (seeded)"
            .formatted(Subsets.receivers(Subsets.SHARED, clients), clients, RATE),
        "latency: commit() called at the node (Instant.now(); the plugin offers the change to the clients inside the call)",
        "-> the client's store event (performance.timeOrigin + performance.now()), over every (change, client) pair of a",
        "round; reference: bare Netty in this JVM writing one pre-encoded Envelope per change to the same subsets, read",
        "and decoded by bare ws sockets in the same processes;",
        "rounds of %.0f s interleaved (round r of both changes the same objects in the same order), warm-up rounds"
            .formatted(roundNanos / 1e9),
        "(at least %.0f s) discarded, %d measured; Node logs in %s".formatted(options.warmupNanos() / 1e9, rounds, logs));
    WebClients.Samples samples = new WebClients.Samples(2_000_000, MAX_CHANGES, STALLED);
    List<WebClients> procs = new ArrayList<>();
    Node node = null;
    RawWebFanout raw = null;
    try {
      Footprint base = Footprint.take();
      node = Node.startWith("browsers", Db.H2.fresh("browsers"), Map.of(
          EntanglementSettings.WEB_LISTEN, "127.0.0.1:0",
          EntanglementSettings.WEB_IDENTITY, new Subsets.TokenIdentity(),
          EntanglementSettings.POLICY, new Subsets.SubsetPolicy()), List.of(WebItem.class));
      Node owner = node;
      owner.inTransaction(em -> {
        for (int k = 0; k < OBJECTS; k++) {
          em.persist(new WebItem(k));
        }
      });
      java.util.Arrays.fill(latest, -1);
      String url = "ws://" + owner.entanglement().webAddress().orElseThrow() + "/entanglement";
      raw = new RawWebFanout();
      for (int p = 0; p < processes; p++) {
        procs.add(WebClients.start("ws-clients-" + p, script, samples, logs.resolve("ws-clients-" + p + ".log")));
      }
      clockOffset(report, procs);
      long[] nodeMemory = nodeMemory(procs);
      Footprint before = Footprint.take();

      // every client connects and receives its subset
      long start = System.nanoTime();
      connect(procs, "ent", url, clients, STALLED);
      awaitCondition(() -> owner.entanglement().connectedPeers().size() >= clients, CONNECT_TIMEOUT,
          () -> "the node has " + owner.entanglement().connectedPeers().size() + " connected peers, expected " + clients);
      long initial = initialObjects(clients);
      awaitCondition(() -> acknowledged(owner) >= initial, CONNECT_TIMEOUT,
          () -> "the clients acknowledged " + acknowledged(owner) + " of the " + initial + " objects of their subsets");
      double connectSeconds = (System.nanoTime() - start) / 1e9;
      Footprint connected = Footprint.take();
      long[] nodeMemoryConnected = nodeMemory(procs);

      RawWebFanout bare = raw;
      connect(procs, "raw", raw.url(), clients, -1);
      awaitCondition(() -> bare.connected() >= clients, CONNECT_TIMEOUT,
          () -> "the bare server has " + bare.connected() + " clients, expected " + clients);
      Footprint rawConnected = Footprint.take();

      report.info("time to connect %d clients and deliver their subsets (%,d objects)".formatted(clients, initial),
          Summary.of(connectSeconds), "s");
      reportFootprint(report, clients, base, before, connected, rawConnected);
      report.info("Node processes: memory (RSS) per connected client", Summary.of(
          (nodeMemoryConnected[0] - nodeMemory[0]) / 1024.0 / clients), "KiB");
      report.info("Node processes: V8 heap per connected client", Summary.of(
          (nodeMemoryConnected[1] - nodeMemory[1]) / 1024.0 / clients), "KiB");

      idle(report, procs, clients, options.millis(2000, 5000));

      Map<String, Summary> results = Interleaved.run(options.warmupNanos(), rounds, List.of(
          new Variant(ENT, () -> round(ENT, owner, bare, procs, samples, clients, roundNanos)),
          new Variant(RAW, () -> round(RAW, owner, bare, procs, samples, clients, roundNanos))));
      reportRounds(report, results, clients);

      stall(report, owner, procs, samples, clients, stallNanos, results.get(ENT + " p99"));
    } finally {
      for (WebClients proc : procs) {
        proc.close();
      }
      if (raw != null) {
        raw.close();
      }
      if (node != null) {
        Nodes.closeAndDispose(node);
      }
    }
  }

  // ---- rounds -------------------------------------------------------------------------------------

  /** One round of one variant at RATE changes/s; its latency percentiles, losses and CPU. */
  private Map<String, Double> round(String variant, Node owner, RawWebFanout bare, List<WebClients> procs,
      WebClients.Samples samples, int clients, long nanos) {
    Totals nodeBefore = Totals.of(procs);
    ThreadCpu cpuBefore = ThreadCpu.take();
    long committer = Thread.currentThread().getId();
    long gcBefore = GcTime.totalMillis();
    long jitBefore = ManagementFactory.getCompilationMXBean().getTotalCompilationTime();
    long wallStart = System.nanoTime();
    int first = nextChange;
    long expected = 0;
    Random random = new Random(1600 + roundsRun.merge(variant, 1, Integer::sum));
    Latencies commits = new Latencies();
    Pacer pacer = new Pacer(RATE);
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() < end) {
      pacer.awaitNext();
      int n = change();
      int k = random.nextInt(OBJECTS);
      objectOf[n] = k;
      expected += Subsets.receivers(k, clients);
      if (variant.equals(ENT)) {
        commits.add(commitChange(owner, k, n));
      } else {
        byte[] frame = frame(k, n);
        committedAt[n] = nowMicros();
        bare.publish(k, frame);
      }
    }
    int last = nextChange;
    long received = awaitSamples(samples, first, last, expected);
    double wall = (System.nanoTime() - wallStart) / 1e9;
    ThreadCpu cpuAfter = ThreadCpu.take();
    Totals node = Totals.of(procs).minus(nodeBefore);
    Map<String, Long> cpu = cpuAfter.since(cpuBefore, thread -> thread.getKey() == committer ? "commit" : group(thread.getValue()));
    Latencies all = new Latencies();
    Latencies shared = new Latencies();
    Latencies group = new Latencies();
    samples.forEach(first, last, (client, change, micros) -> {
      long latency = micros - committedAt[change];
      all.add(latency);
      (objectOf[change] < Subsets.SHARED ? shared : group).add(latency);
    });
    Map<String, Double> figures = new HashMap<>();
    int changes = last - first;
    all.put(figures, variant);
    shared.put(figures, variant + " shared");
    group.put(figures, variant + " group");
    commits.put(figures, variant + " commit");
    figures.put(variant + " missing", (double) (expected - received));
    figures.put(variant + " deliveries", received / (nanos / 1e9));
    figures.put(variant + " jvm cpu", (cpuAfter.process() - cpuBefore.process()) / 1e3 / changes);
    for (String threads : List.of("commit", "web", "plugin", "other")) {
      figures.put(variant + " cpu " + threads, cpu.getOrDefault(threads, 0L) / 1e3 / changes);
    }
    figures.put(variant + " cpu java", cpu.values().stream().mapToLong(Long::longValue).sum() / 1e3 / changes);
    figures.put(variant + " node cpu", received == 0 ? Double.NaN : (double) node.cpuMicros() / received);
    long frames = variant.equals(ENT) ? node.entFrames() : node.rawFrames();
    long bytes = variant.equals(ENT) ? node.entBytes() : node.rawBytes();
    figures.put(variant + " frames", frames / wall / clients);
    figures.put(variant + " bytes", bytes / wall / clients);
    figures.put(variant + " gc", (double) (GcTime.totalMillis() - gcBefore));
    figures.put(variant + " jit", (double) (ManagementFactory.getCompilationMXBean().getTotalCompilationTime() - jitBefore));
    return figures;
  }

  private void reportRounds(Report report, Map<String, Summary> r, int clients) {
    String ref = "bare Netty fan-out";
    report.compare("change-to-client latency p50, %d clients @%d changes/s".formatted(clients, RATE),
        ms(r.get(ENT + " p50")), "ms", ref, ms(r.get(RAW + " p50")), null);
    report.detail("change-to-client latency p99", ms(r.get(ENT + " p99")), "ms", ref, ms(r.get(RAW + " p99")), null);
    report.detail("change-to-client latency p99.9", ms(r.get(ENT + " p999")), "ms", ref, ms(r.get(RAW + " p999")), null);
    report.detail("change-to-client latency max", ms(r.get(ENT + " max")), "ms", ref, ms(r.get(RAW + " max")), null);
    report.detail("group objects (%d clients each): p50".formatted(Subsets.receivers(Subsets.SHARED, clients)),
        ms(r.get(ENT + " group p50")), "ms", ref, ms(r.get(RAW + " group p50")), null);
    report.detail("group objects: p99", ms(r.get(ENT + " group p99")), "ms", ref, ms(r.get(RAW + " group p99")), null);
    if (r.containsKey(ENT + " shared p50") && r.containsKey(RAW + " shared p50")) {
      report.detail("shared objects (all %d clients): p50".formatted(clients), ms(r.get(ENT + " shared p50")), "ms", ref,
          ms(r.get(RAW + " shared p50")), null);
      report.detail("shared objects: p99", ms(r.get(ENT + " shared p99")), "ms", ref, ms(r.get(RAW + " shared p99")), null);
    }
    report.detail("deliveries per second (change x client)", r.get(ENT + " deliveries"), "/s", ref,
        r.get(RAW + " deliveries"), null);
    report.info("the node's commit() call, p50 (the plugin offers the change to every client inside it)",
        ms(r.get(ENT + " commit p50")), "ms");
    report.info("the node's commit() call, p99", ms(r.get(ENT + " commit p99")), "ms");
    report.info("deliveries missing at the end of a round (coalesced or lost)", r.get(ENT + " missing"), "");
    report.info("bare Netty: deliveries missing", r.get(RAW + " missing"), "");
    report.detail("frames received per client and second", r.get(ENT + " frames"), "/s", ref, r.get(RAW + " frames"), null);
    report.detail("bytes received per client and second", r.get(ENT + " bytes"), "B/s", ref, r.get(RAW + " bytes"), null);
    report.detail("server JVM CPU per change (the whole process: JIT compilation and GC included)",
        r.get(ENT + " jvm cpu"), "us", ref, r.get(RAW + " jvm cpu"), null);
    report.detail("server Java threads' CPU per change (JIT compiler and GC threads not included)",
        r.get(ENT + " cpu java"), "us", ref, r.get(RAW + " cpu java"), null);
    report.detail("  of which the committing / publishing thread", r.get(ENT + " cpu commit"), "us", ref,
        r.get(RAW + " cpu commit"), null);
    report.detail("  of which the WebSocket event loops", r.get(ENT + " cpu web"), "us", ref, r.get(RAW + " cpu web"), null);
    report.info("  of which the plugin's other threads (workers: drains, acks; scheduler)", r.get(ENT + " cpu plugin"), "us");
    report.info("  of which other Java threads (harness, H2, JIT)", r.get(ENT + " cpu other"), "us");
    report.detail("Node processes' CPU per delivery (decode, store, ack)", r.get(ENT + " node cpu"), "us", ref,
        r.get(RAW + " node cpu"), null);
    report.info("GC time during a round", r.get(ENT + " gc"), "ms");
    report.info("JIT compilation time during a round (compiler threads: in the process's CPU, not in a Java thread's)",
        r.get(ENT + " jit"), "ms");
    report.info("bare Netty: JIT compilation time during a round", r.get(RAW + " jit"), "ms");
  }

  // ---- a client that stops reading ----------------------------------------------------------------

  private void stall(Report report, Node owner, List<WebClients> procs, WebClients.Samples samples, int clients,
      long nanos, Summary normalP99) throws Exception {
    String name = "c" + STALLED;
    int sees = initialObjectsOf(STALLED);
    report.section("11b. Browsers: client %s stops reading (its socket paused: it reads and answers nothing) for %.0f s while the node commits %d changes/s"
            .formatted(name, nanos / 1e9, RATE),
        "it sees %d objects; its own watchdog is off (it stays connected and keeps sending heartbeats, the worst case"
            .formatted(sees),
        "for the node: only entanglement.peer.stall_timeout_ms, 60 s by default, would close it); heap after a full GC",
        "before and after; the others' latency meanwhile; then it reads again: time until its store holds the latest",
        "state of every object it sees");
    WebClients first = procs.get(0);
    long heapBefore = fullGcHeap();
    PeerStatus at = status(owner, name);
    first.command("pause " + STALLED);
    int from = nextChange;
    long expected = 0;
    int maxOutbox = 0;
    List<String> timeline = new ArrayList<>();
    Random random = new Random(1699);
    Pacer pacer = new Pacer(RATE);
    long start = System.nanoTime();
    long end = start + nanos;
    long nextSample = start + TimeUnit.SECONDS.toNanos(1);
    while (System.nanoTime() < end) {
      pacer.awaitNext();
      int n = change();
      int k = random.nextInt(OBJECTS);
      objectOf[n] = k;
      expected += Subsets.receivers(k, clients) - (Subsets.visible(k, STALLED) ? 1 : 0);
      commitChange(owner, k, n);
      if (System.nanoTime() >= nextSample) {
        PeerStatus now = status(owner, name);
        maxOutbox = Math.max(maxOutbox, now.outboxDepth());
        long second = Math.round((System.nanoTime() - start) / 1e9);
        if (second % 5 == 0 || second == 1) {
          timeline.add("t=%2d s: outbox %d, coalesced %d, sent %d (%,d B), heap used %d MB (no GC)".formatted(second,
              now.outboxDepth(), now.coalesced() - at.coalesced(), now.changesSent() - at.changesSent(),
              now.bytesSent() - at.bytesSent(), heapUsed() >> 20));
        }
        nextSample += TimeUnit.SECONDS.toNanos(1);
      }
    }
    int to = nextChange;
    PeerStatus paused = status(owner, name);
    maxOutbox = Math.max(maxOutbox, paused.outboxDepth());
    // the others' deliveries (samples of the stalled client are not counted: it reads none now)
    long othersReceived = awaitOthers(samples, from, to, expected);
    Latencies others = new Latencies();
    samples.forEach(from, to, (client, change, micros) -> {
      if (client != STALLED) {
        others.add(micros - committedAt[change]);
      }
    });
    long heapAfter = fullGcHeap();
    timeline.forEach(report::note);

    long resumed = System.nanoTime();
    first.command("resume " + STALLED);
    awaitCondition(() -> holdsLatest(first), Duration.ofMinutes(2),
        () -> name + " does not hold the latest state of its objects 2 minutes after it read again: " + first.command("held " + STALLED));
    double caughtUp = (System.nanoTime() - resumed) / 1e6;
    PeerStatus after = status(owner, name);
    int reconnects = procs.get(0).stats().reconnects();

    report.info("%s: most changes in its outbox while it did not read (one per object: coalesced)".formatted(name),
        Summary.of(maxOutbox), "changes");
    report.info("%s: changes committed to objects it sees while it did not read".formatted(name),
        Summary.of(countVisible(from, to)), "changes");
    report.info("%s: changes sent to it while it did not read (until 16 batches were unanswered)".formatted(name),
        Summary.of(paused.changesSent() - at.changesSent()), "changes");
    report.info("%s: changes coalesced in its outbox while it did not read".formatted(name),
        Summary.of(paused.coalesced() - at.coalesced()), "changes");
    report.info("server heap after a full GC: growth over the %.0f s it did not read".formatted(nanos / 1e9),
        Summary.of((heapAfter - heapBefore) / 1024.0 / 1024.0), "MB");
    report.against("the other clients' latency p99 meanwhile", ms(Summary.of(others.p(99))), "ms",
        "p99 of the rounds above (median)", normalP99.median() / 1e3, null);
    report.info("the other clients' latency p50 meanwhile", ms(Summary.of(others.p(50))), "ms");
    report.info("the other clients' deliveries missing", Summary.of(expected - othersReceived), "");
    report.info("%s reads again: until its store holds the latest state of all %d objects".formatted(name, sees),
        Summary.of(caughtUp), "ms");
    report.info("%s: changes sent to it after it read again".formatted(name),
        Summary.of(after.changesSent() - paused.changesSent()), "changes");
    report.info("%s: reconnections (0: the node kept its connection)".formatted(name), Summary.of(reconnects), "");
  }

  private boolean holdsLatest(WebClients proc) {
    String[] words = proc.command("held " + STALLED).split(" ");
    Map<Long, Long> held = new HashMap<>();
    if (words.length > 2) {
      for (String pair : words[2].split(",")) {
        int colon = pair.indexOf(':');
        held.put(Long.parseLong(pair.substring(0, colon)), Long.parseLong(pair.substring(colon + 1)));
      }
    }
    for (int k = 0; k < OBJECTS; k++) {
      if (Subsets.visible(k, STALLED) && held.getOrDefault((long) k, Long.MIN_VALUE) != latest[k]) {
        return false;
      }
    }
    return true;
  }

  private int countVisible(int from, int to) {
    int count = 0;
    for (int n = from; n < to; n++) {
      count += Subsets.visible(objectOf[n], STALLED) ? 1 : 0;
    }
    return count;
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /**
   * Change {@code n} writes object {@code k} at the node; its time is taken when {@code commit()}
   * is called: the plugin offers the change to every connected client inside the call (after the
   * database's commit, before it returns), so a client may show it before the call returns. Returns
   * how long the call took, in microseconds.
   */
  private long commitChange(Node owner, int k, int n) {
    EntityManager em = owner.factory().createEntityManager();
    try {
      em.getTransaction().begin();
      em.find(WebItem.class, (long) k).write(n);
      long called = nowMicros();
      committedAt[n] = called;
      em.getTransaction().commit();
      latest[k] = n;
      return nowMicros() - called;
    } finally {
      if (em.getTransaction().isActive()) {
        em.getTransaction().rollback();
      }
      em.close();
    }
  }

  private int change() {
    if (nextChange == MAX_CHANGES) {
      throw new IllegalStateException("more than " + MAX_CHANGES + " changes: raise MAX_CHANGES");
    }
    return nextChange++;
  }

  /** The bare server's frame for change n of object k: the Envelope the node would send, built and encoded once. */
  private static byte[] frame(int k, int n) {
    WebItem item = new WebItem(k);
    item.write(n);
    Change change = Change.newBuilder().setEntity("WebItem").setId(Value.newBuilder().setInteger(k))
        .setOwner("browsers").setSerial(n + 1L).setEpoch(1).setOperation(Operation.UPSERT)
        .addAttributes(attribute("active", Value.newBuilder().setBoolean(item.active)))
        .addAttributes(attribute("changeNumber", Value.newBuilder().setInteger(item.changeNumber)))
        .addAttributes(attribute("name", Value.newBuilder().setText(item.name)))
        .addAttributes(attribute("note", Value.newBuilder().setText(item.note)))
        .addAttributes(attribute("price", Value.newBuilder().setReal(item.price)))
        .addAttributes(attribute("quantity", Value.newBuilder().setInteger(item.quantity)))
        .build();
    return Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(n + 1L).addChanges(change)
        .addPositions(OwnerPosition.newBuilder().setOwner("browsers").setSerial(n + 1L))).build().toByteArray();
  }

  private static Attribute attribute(String name, Value.Builder value) {
    return Attribute.newBuilder().setName(name).setValue(value).build();
  }

  /** Connects {@code clients} clients spread over the processes, all processes at once. */
  private static void connect(List<WebClients> procs, String kind, String url, int clients, int stalled) {
    int per = (clients + procs.size() - 1) / procs.size();
    List<WebClients> asked = new ArrayList<>();
    for (int p = 0; p < procs.size(); p++) {
      int first = p * per;
      int count = Math.min(per, clients - first);
      if (count > 0) {
        procs.get(p).send("connect %s %s %d %d%s".formatted(kind, url, first, count,
            stalled >= first && stalled < first + count ? " " + stalled : ""));
        asked.add(procs.get(p));
      }
    }
    for (WebClients proc : asked) {
      proc.answer("connect " + kind, CONNECT_TIMEOUT);
    }
  }

  /** Waits until every expected sample of changes [first, last) arrived, or none came for a while; returns how many did. */
  private static long awaitSamples(WebClients.Samples samples, int first, int last, long expected) {
    long received = samples.count(first, last);
    long lastProgress = System.nanoTime();
    while (received < expected && System.nanoTime() - lastProgress < QUIET_TIMEOUT.toNanos()) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
      long now = samples.count(first, last);
      if (now != received) {
        received = now;
        lastProgress = System.nanoTime();
      }
    }
    return received;
  }

  private static long awaitOthers(WebClients.Samples samples, int first, int last, long expected) {
    long[] received = {0};
    awaitCondition(() -> {
      received[0] = samples.countOthers(first, last);
      return received[0] >= expected;
    }, QUIET_TIMEOUT, () -> "");
    return received[0];
  }

  private static void awaitCondition(java.util.function.BooleanSupplier done, Duration timeout,
      java.util.function.Supplier<String> failure) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        String message = failure.get();
        if (message.isEmpty()) {
          return; // the caller counts what is missing
        }
        throw new IllegalStateException(message + " (after " + timeout + ")");
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
  }

  private static long acknowledged(Node owner) {
    return owner.entanglement().peers().stream().filter(p -> p.state() == PeerStatus.State.STREAMING)
        .mapToLong(PeerStatus::changesAcknowledged).sum();
  }

  private static PeerStatus status(Node owner, String peer) {
    return owner.entanglement().peers().stream()
        .filter(p -> peer.equals(p.name()) && p.state() == PeerStatus.State.STREAMING).findFirst()
        .orElseThrow(() -> new IllegalStateException("the node has no open stream to " + peer));
  }

  private static long initialObjects(int clients) {
    long total = 0;
    for (int c = 0; c < clients; c++) {
      total += initialObjectsOf(c);
    }
    return total;
  }

  private static int initialObjectsOf(int client) {
    int count = 0;
    for (int k = 0; k < OBJECTS; k++) {
      count += Subsets.visible(k, client) ? 1 : 0;
    }
    return count;
  }

  private static long nowMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }

  /** The group of a JVM thread by its name: the node's web event loops, its other threads, the bare server's loops. */
  private static String group(String thread) {
    if (thread.startsWith("entanglement-browsers-web") || thread.startsWith("bench-raw-")) {
      return "web";
    }
    return thread.startsWith("entanglement-browsers-") ? "plugin" : "other";
  }

  /**
   * What the clients cost when nothing changes (heartbeats, timers, position flushes): the JVM's
   * and the Node processes' CPU, and the frames each client receives, over a window of {@code
   * nanos} with every client connected.
   */
  private static void idle(Report report, List<WebClients> procs, int clients, long nanos) {
    Totals nodeBefore = Totals.of(procs);
    ThreadCpu before = ThreadCpu.take();
    long start = System.nanoTime();
    long end = start + nanos;
    for (long now = start; now < end; now = System.nanoTime()) {
      LockSupport.parkNanos(end - now); // a measured window, not a wait for a condition
    }
    double wall = (System.nanoTime() - start) / 1e9;
    ThreadCpu after = ThreadCpu.take();
    Totals node = Totals.of(procs).minus(nodeBefore);
    Map<String, Long> cpu = after.since(before, thread -> group(thread.getValue()));
    int cores = Runtime.getRuntime().availableProcessors();
    report.info("idle, %d clients of each kind connected: server JVM CPU busy (1.0 = every core)".formatted(clients),
        Summary.of((after.process() - before.process()) / 1e9 / wall / cores), "");
    report.info("idle: the node's threads' CPU (event loops + others) per client", Summary.of(
        (cpu.getOrDefault("web", 0L) + cpu.getOrDefault("plugin", 0L)) / 1e3 / wall / clients), "us/s");
    report.info("idle: Node processes' CPU busy (1.0 = every core)", Summary.of(node.cpuMicros() / 1e6 / wall / cores), "");
    report.info("idle: frames received per entanglement client and second", Summary.of(node.entFrames() / wall / clients), "/s");
  }

  /** The Node processes' counters added up. */
  private record Totals(long cpuMicros, long entFrames, long entBytes, long rawFrames, long rawBytes) {
    static Totals of(List<WebClients> procs) {
      long cpu = 0;
      long entFrames = 0;
      long entBytes = 0;
      long rawFrames = 0;
      long rawBytes = 0;
      for (WebClients proc : procs) {
        WebClients.Stats stats = proc.stats();
        cpu += stats.cpuMicros();
        entFrames += stats.entFrames();
        entBytes += stats.entBytes();
        rawFrames += stats.rawFrames();
        rawBytes += stats.rawBytes();
      }
      return new Totals(cpu, entFrames, entBytes, rawFrames, rawBytes);
    }

    Totals minus(Totals before) {
      return new Totals(cpuMicros - before.cpuMicros, entFrames - before.entFrames, entBytes - before.entBytes,
          rawFrames - before.rawFrames, rawBytes - before.rawBytes);
    }
  }

  private static long[] nodeMemory(List<WebClients> procs) {
    long rss = 0;
    long heap = 0;
    for (WebClients proc : procs) {
      WebClients.Stats stats = proc.stats();
      rss += stats.rss();
      heap += stats.heap();
    }
    return new long[] {rss, heap};
  }

  /**
   * The offset of each Node process's clock from this JVM's (Instant.now()), from stdin/stdout
   * round trips: offset = node's reading - midpoint of the trip, from the shortest of 20 trips; its
   * error is at most half that trip. Printed, not applied: both read the same system clock.
   */
  private static void clockOffset(Report report, List<WebClients> procs) {
    double worst = 0;
    double bound = 0;
    for (WebClients proc : procs) {
      long bestTrip = Long.MAX_VALUE;
      long bestOffset = 0;
      for (int i = 0; i < 20; i++) {
        long sent = nowMicros();
        long theirs = Long.parseLong(proc.command("clock").split(" ")[1]);
        long back = nowMicros();
        if (back - sent < bestTrip) {
          bestTrip = back - sent;
          bestOffset = theirs - (sent + back) / 2;
        }
      }
      if (Math.abs(bestOffset) >= Math.abs(worst)) {
        worst = bestOffset;
        bound = bestTrip / 2.0;
      }
    }
    report.note("clocks: the Node processes' wall clock differs from the JVM's by at most %.0f us (+- %.0f us, half the"
        .formatted(worst, bound) + " shortest stdin/stdout round trip); not corrected");
  }

  private static Summary ms(Summary micros) {
    return new Summary(micros.values().stream().map(v -> v / 1e3).toList());
  }

  private static long fullGcHeap() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return heapUsed();
  }

  private static long heapUsed() {
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static void reportFootprint(Report report, int clients, Footprint base, Footprint before,
      Footprint connected, Footprint raw) {
    report.compare("server heap per connected client (after a full GC, %d connected - none)".formatted(clients),
        Summary.of((connected.heap() - before.heap()) / 1024.0 / clients), "KiB",
        "bare Netty", Summary.of((raw.heap() - connected.heap()) / 1024.0 / clients), null);
    report.detail("server threads added by %d clients (the plugin's workers are a pool of at most 64)".formatted(clients),
        Summary.of(connected.threads() - before.threads()), "threads", "bare Netty",
        Summary.of(raw.threads() - connected.threads()), null);
    report.detail("server direct memory per client (JVM's direct buffer pool)",
        Summary.of((connected.direct() - before.direct()) / 1024.0 / clients), "KiB", "bare Netty",
        Summary.of((raw.direct() - connected.direct()) / 1024.0 / clients), null);
    report.info("server heap after a full GC: the node with %,d objects and no client (before: %d MB)"
        .formatted(OBJECTS, base.heap() >> 20), Summary.of(before.heap() / 1024.0 / 1024.0), "MB");
    report.info("server heap after a full GC with %d clients, and with the bare server's too".formatted(clients),
        Summary.of(connected.heap() / 1024.0 / 1024.0, raw.heap() / 1024.0 / 1024.0), "MB");
    report.info("JVM threads: no client, %d clients, and the bare server's too".formatted(clients),
        Summary.of(before.threads(), connected.threads(), raw.threads()), "threads");
  }

  /** The heap used after a full GC, live threads and the JVM's direct buffers. */
  private record Footprint(long heap, int threads, long direct) {
    static Footprint take() {
      long heap = fullGcHeap();
      long direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
          .filter(pool -> pool.getName().equals("direct")).mapToLong(BufferPoolMXBean::getMemoryUsed).sum();
      return new Footprint(heap, ManagementFactory.getThreadMXBean().getThreadCount(), direct);
    }
  }

  /** One round's latencies in microseconds. */
  private static final class Latencies {
    private long[] values = new long[1024];
    private int size;

    void add(long micros) {
      if (size == values.length) {
        values = java.util.Arrays.copyOf(values, size * 2);
      }
      values[size++] = micros;
    }

    double p(double percentile) {
      return new Percentiles(java.util.Arrays.copyOf(values, size)).at(percentile);
    }

    void put(Map<String, Double> figures, String key) {
      if (size == 0) {
        return;
      }
      Percentiles p = new Percentiles(java.util.Arrays.copyOf(values, size));
      figures.put(key + " p50", (double) p.at(50));
      figures.put(key + " p99", (double) p.at(99));
      figures.put(key + " p999", (double) p.at(99.9));
      figures.put(key + " max", (double) p.max());
    }
  }
}
