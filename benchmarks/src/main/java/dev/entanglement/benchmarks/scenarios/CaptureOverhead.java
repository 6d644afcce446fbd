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
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.Transport;
import dev.entanglement.benchmarks.support.Workload;
import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;

/**
 * What the plugin costs the application's commits: single-row transactions on one thread, with
 * the plugin off (no node name), on with no peer (capture and bookkeeping only), and on with one
 * peer connected (capture, bookkeeping and handing the change to the peer's outbox; the peer runs
 * in this JVM, so its apply shares the cores), and the same with a send policy that reads the
 * object's state (so the node also keeps each updated object's prior state for withdrawals).
 * Inserts and updates are measured separately.
 */
public final class CaptureOverhead implements Scenario {
  private final Db db;

  public CaptureOverhead(Db db) {
    this.db = db;
  }

  @Override
  public String id() {
    return "capture";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    boolean h2 = db == Db.H2;
    long nanos = h2 ? options.millis(500, 2000) : options.millis(600, 2000);
    int rounds = options.pick(3, 5);
    int preload = h2 ? 10_000 : 2_000;
    Target target = Target.atLeast(h2 ? 0.7 : 0.9);
    report.section("1. Capture overhead on " + db + ": single-row transactions, one thread",
        "each round commits for %.1f s per variant; warm-up rounds (at least %.0f s) discarded, %d measured, order rotated"
            .formatted(nanos / 1e9, options.warmupNanos() / 1e9, rounds),
        "insert = new EntityManager + tx + persist(1 row) + commit; update = find(random of %,d rows) + 3 fields + commit"
            .formatted(preload),
        "'1 peer' = a second node in this JVM dials over in-process gRPC and applies while the source commits;"
            + " it waits until the peer caught up after each round, untimed",
        "'send policy' = the same with a policy that reads each object's state (quantity >= 0, always allowed),"
            + " so updates also write the object's prior state (withdrawals, issue 17)");
    if (!h2) {
      report.note("PostgreSQL: " + Db.postgresDescription());
    }
    Node off = null;
    Node alone = null;
    Pair pair = null;
    Pair guarded = null;
    try {
      off = Node.plain(db.fresh("off"), Map.of());
      alone = Node.start("alone", db.fresh("alone"), Map.of());
      pair = Pair.start(db, Transport.IN_PROCESS, Map.of());
      guarded = Pair.start(db, Transport.IN_PROCESS, Map.of());
      guarded.source().entanglement().addPolicy(new ReadsState());
      List<UUID> offIds = Workload.preload(off, preload);
      List<UUID> aloneIds = Workload.preload(alone, preload);
      List<UUID> pairIds = Workload.preload(pair.source(), preload);
      List<UUID> guardedIds = Workload.preload(guarded.source(), preload);
      pair.awaitCaughtUp();
      guarded.awaitCaughtUp();
      for (String operation : List.of("insert", "update")) {
        boolean insert = operation.equals("insert");
        Node offNode = off;
        Node aloneNode = alone;
        Pair connected = pair;
        Pair withPolicy = guarded;
        SplittableRandom random = new SplittableRandom(42);
        List<Variant> variants = List.of(
            Variant.single("off", () -> commits(offNode, insert, offIds, nanos, random)),
            Variant.single("on", () -> commits(aloneNode, insert, aloneIds, nanos, random)),
            Variant.single("peer", () -> {
              double rate = commits(connected.source(), insert, pairIds, nanos, random);
              connected.awaitCaughtUp(); // the peer's backlog must not spill into the next variant
              return rate;
            }),
            Variant.single("policy", () -> {
              double rate = commits(withPolicy.source(), insert, guardedIds, nanos, random);
              withPolicy.awaitCaughtUp();
              return rate;
            }));
        Map<String, Summary> results = Interleaved.run(options.warmupNanos(), rounds, variants);
        String name = "%s 1-row %s tx/s".formatted(db, operation);
        report.compare(name + ", plugin on, no peer", results.get("on"), "tx/s", "plugin off", results.get("off"), target);
        report.compare(name + ", plugin on, 1 peer connected", results.get("peer"), "tx/s", "plugin off",
            results.get("off"), target);
        report.compare(name + ", plugin on, 1 peer, send policy", results.get("policy"), "tx/s", "plugin off",
            results.get("off"), target);
        report.detail(name + ", send policy", results.get("policy"), "tx/s", "1 peer without policy",
            results.get("peer"), null);
      }
    } finally {
      if (pair != null) {
        pair.close();
      }
      if (guarded != null) {
        guarded.close();
      }
      Nodes.closeAndDispose(alone, off);
    }
  }

  /** A send policy that reads the state, as a field-dependent rule does; it allows everything. */
  private static final class ReadsState implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return object.entity() instanceof BenchItem item ? Decision.allowIf(item.quantity >= 0, "negative quantity")
          : Decision.abstain();
    }
  }

  private static double commits(Node node, boolean insert, List<UUID> ids, long nanos, SplittableRandom random) {
    return (insert ? Workload.insertFor(node, nanos) : Workload.updateFor(node, ids, nanos, random)).perSecond();
  }
}
