package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.report.Target;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.MemberProcess;
import dev.entanglement.benchmarks.support.DbSettings;
import dev.entanglement.benchmarks.support.Node;
import dev.entanglement.benchmarks.support.Nodes;
import dev.entanglement.benchmarks.support.Options;
import dev.entanglement.benchmarks.support.Pacer;
import dev.entanglement.benchmarks.support.Percentiles;
import dev.entanglement.benchmarks.support.Summary;
import dev.entanglement.benchmarks.support.VisibilityPoller;
import dev.entanglement.hibernate.EntanglementSettings;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Several application instances (members) of one node on one PostgreSQL database: one holds the
 * node's links, the others follow and the holder gives their commits serials (issue 14). The
 * sink listens; every member of the source dials it (only the holder's dial is live).
 *
 * <ul>
 *   <li>Commit rate: each member commits 1-row inserts from a thread of its own for a round; the
 *       aggregate rate with 1, 2 and 3 members.
 *   <li>Commit-to-visible: 1-row inserts at a fixed rate, round-robin over 3 members (two of three
 *       commits on followers), against the same with 1 member, in the same run.
 *   <li>Failover: the holder stops (a clean stop releases the lease); the time until a row
 *       committed on a follower right after is visible at the sink.
 *   <li>Failover after a crash: the holder runs in a JVM of its own ({@link MemberProcess}) and is
 *       killed with SIGKILL (nothing released: the lease only ages); the time until a row committed
 *       on a follower right after is visible at the sink, with the default lease timeout.
 * </ul>
 */
public final class Members implements Scenario {
  private static final String SOURCE = "source";
  private static final String SINK = "sink";

  @Override
  public String id() {
    return "members";
  }

  @Override
  public void run(Options options, Report report) throws Exception {
    long roundNanos = options.millis(1500, 4000);
    int rate = 200;
    int seconds = options.pick(2, 6);
    int rounds = options.pick(1, 3);
    report.section("8. Several members of one node, PostgreSQL, netty loopback",
        "members: application instances of the source node on one PostgreSQL database; one holds the links,",
        "the others follow (the holder stamps their commits, woken by LISTEN/NOTIFY); the sink dials none: the",
        "members dial it. Commit rate: 1-row inserts, one thread per member, %.1f s per round; commit-to-visible:"
            .formatted(roundNanos / 1e9),
        "%d inserts/s for %d s round-robin over the members, t1 = row found in the sink's database; %d rounds"
            .formatted(rate, seconds, rounds));
    report.note("PostgreSQL: " + Db.postgresDescription());
    Map<Integer, List<Double>> commitRates = new HashMap<>();
    Map<Integer, List<Double>> p50 = new HashMap<>();
    Map<Integer, List<Double>> p99 = new HashMap<>();
    List<Double> failover = new ArrayList<>();
    List<Double> crashFailover = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      for (int members : new int[] {1, 2, 3}) {
        try (Cluster cluster = Cluster.start(members)) {
          commitRates.computeIfAbsent(members, m -> new ArrayList<>()).add(cluster.commitRate(roundNanos));
          if (members != 2) {
            long[] latencies = cluster.commitToVisible(rate, seconds);
            Percentiles p = new Percentiles(latencies);
            p50.computeIfAbsent(members, m -> new ArrayList<>()).add(p.at(50) / 1e3);
            p99.computeIfAbsent(members, m -> new ArrayList<>()).add(p.at(99) / 1e3);
          }
          if (members == 3) {
            failover.add(cluster.failoverMillis());
          }
        }
      }
      for (int kill = 0; kill < options.pick(2, 3); kill++) {
        crashFailover.add(crashFailoverMillis());
      }
    }
    Summary one = summary(commitRates.get(1));
    report.figure("commit rate, 1 member", one, "commits/s");
    report.compare("commit rate, 2 members (aggregate)", summary(commitRates.get(2)), "commits/s", "1 member", one, null);
    report.compare("commit rate, 3 members (aggregate)", summary(commitRates.get(3)), "commits/s", "1 member", one, null);
    Summary p99one = summary(p99.get(1));
    report.figure("commit-to-visible @%d/s, 1 member, p50".formatted(rate), summary(p50.get(1)), "us");
    report.info("commit-to-visible @%d/s, 1 member, p99".formatted(rate), p99one, "us");
    report.figure("commit-to-visible @%d/s, 3 members (2 of 3 commits on followers), p50".formatted(rate),
        summary(p50.get(3)), "us");
    report.detail("commit-to-visible @%d/s, 3 members, p99".formatted(rate), summary(p99.get(3)), "us",
        "1 member p99", p99one, Target.atMost(2.0));
    report.against("failover: holder stops cleanly, until a follower's row is at the sink", summary(failover), "ms",
        "issue 14 target (5 s)", 5000, Target.atMost(1.0));
    report.against("failover: holder SIGKILLed (own JVM), until a follower's row is at the sink", summary(crashFailover),
        "ms", "issue 14 target (5 s)", 5000, Target.atMost(1.0));
  }

  /**
   * The holder and two followers, each in a JVM of its own (a follower takes the links over
   * cold, as in production); SIGKILL of the holder, then a row committed on a follower: ms from
   * the kill until the row is at the sink.
   */
  private static double crashFailoverMillis() throws Exception {
    Node sink = Node.start(SINK, Db.POSTGRESQL.fresh("sink"), Map.of(EntanglementSettings.LISTEN, "127.0.0.1:0",
        EntanglementSettings.PLAINTEXT, "true"));
    DbSettings db = Db.POSTGRESQL.fresh("source");
    Map<String, String> dialSink = Map.of(EntanglementSettings.PEERS, sink.address());
    Map<String, String> follow = Map.of(EntanglementSettings.PEERS, sink.address(), "hibernate.hbm2ddl.auto", "none");
    try (MemberProcess holder = MemberProcess.start(SOURCE, db, dialSink)) {
      sink.awaitConnected(SOURCE);
      try (MemberProcess first = MemberProcess.start(SOURCE, db, follow);
          MemberProcess second = MemberProcess.start(SOURCE, db, follow)) {
        UUID warm = UUID.randomUUID(); // the followers' path works before the kill
        first.insert(warm);
        awaitAtSink(sink, warm, System.nanoTime());
        holder.kill();
        long killed = System.nanoTime();
        UUID id = UUID.randomUUID();
        second.insert(id);
        return awaitAtSink(sink, id, killed);
      }
    } finally {
      Nodes.closeAndDispose(sink);
      db.dispose();
    }
  }

  /** Ms from {@code since} until the row is in the sink's database. */
  private static double awaitAtSink(Node sink, UUID id, long since) throws Exception {
    try (Connection connection = sink.db().connect();
        PreparedStatement find = connection.prepareStatement("select 1 from BenchItem where id = ?")) {
      find.setObject(1, id);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (System.nanoTime() < deadline) {
        try (ResultSet rs = find.executeQuery()) {
          if (rs.next()) {
            return (System.nanoTime() - since) / 1e6;
          }
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
      }
    }
    throw new IllegalStateException("row %s was not at the sink within 60 s".formatted(id));
  }

  private static Summary summary(List<Double> values) {
    return Summary.of(values.stream().mapToDouble(Double::doubleValue).toArray());
  }

  /** The sink and the source's members. */
  private static final class Cluster implements AutoCloseable {
    private final Node sink;
    private final List<Node> members;
    private final DbSettings sourceDb;

    private Cluster(Node sink, List<Node> members, DbSettings sourceDb) {
      this.sink = sink;
      this.members = members;
      this.sourceDb = sourceDb;
    }

    static Cluster start(int count) {
      Node sink = Node.start(SINK, Db.POSTGRESQL.fresh("sink"), Map.of(EntanglementSettings.LISTEN, "127.0.0.1:0",
          EntanglementSettings.PLAINTEXT, "true"));
      DbSettings db = Db.POSTGRESQL.fresh("source");
      List<Node> members = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        Map<String, String> properties = new HashMap<>(Map.of(EntanglementSettings.PEERS, sink.address(),
            EntanglementSettings.PLAINTEXT, "true"));
        if (i > 0) {
          properties.put("hibernate.hbm2ddl.auto", "none"); // the first member made the schema
        }
        members.add(Node.start(SOURCE, db, properties));
      }
      sink.awaitConnected(SOURCE);
      return new Cluster(sink, members, db);
    }

    /** Aggregate commits per second with every member committing from a thread of its own. */
    double commitRate(long nanos) throws InterruptedException {
      AtomicLong commits = new AtomicLong();
      CountDownLatch done = new CountDownLatch(members.size());
      long end = System.nanoTime() + nanos;
      long start = System.nanoTime();
      for (Node member : members) {
        Thread thread = new Thread(() -> {
          int i = 0;
          while (System.nanoTime() < end) {
            BenchItem item = new BenchItem(UUID.randomUUID(), i++);
            member.inTransaction(em -> em.persist(item));
            commits.incrementAndGet();
          }
          done.countDown();
        });
        thread.setDaemon(true);
        thread.start();
      }
      done.await();
      double rate = commits.get() / ((System.nanoTime() - start) / 1e9);
      awaitSinkHolds(count(sourceDb), Duration.ofMinutes(2));
      return rate;
    }

    /** Commit-to-visible latencies (ns) of inserts at a fixed rate, round-robin over the members. */
    long[] commitToVisible(int rate, int seconds) throws Exception {
      int n = rate * seconds;
      UUID[] ids = new UUID[n];
      for (int i = 0; i < n; i++) {
        ids[i] = UUID.randomUUID();
      }
      AtomicLongArray committedAt = new AtomicLongArray(n);
      try (VisibilityPoller poller = new VisibilityPoller(sink.db(), ids, committedAt)) {
        poller.start();
        Pacer pacer = new Pacer(rate);
        for (int i = 0; i < n; i++) {
          pacer.awaitNext();
          BenchItem item = new BenchItem(ids[i], i);
          members.get(i % members.size()).inTransaction(em -> em.persist(item));
          committedAt.set(i, System.nanoTime());
        }
        return poller.await(Duration.ofSeconds(60));
      }
    }

    /** Closes the holder (the first member); ms until a row committed on a follower right after is at the sink. */
    double failoverMillis() throws Exception {
      Node holder = members.remove(0);
      long start = System.nanoTime();
      holder.close();
      UUID id = UUID.randomUUID();
      members.get(0).inTransaction(em -> em.persist(new BenchItem(id, 0)));
      return awaitAtSink(sink, id, start);
    }

    private static long count(DbSettings db) {
      try (Connection connection = db.connect();
          PreparedStatement count = connection.prepareStatement("select count(*) from BenchItem");
          ResultSet rs = count.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      } catch (java.sql.SQLException e) {
        throw new IllegalStateException(e);
      }
    }

    private void awaitSinkHolds(long rows, Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (count(sink.db()) < rows) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the sink holds %d of %d rows after %s".formatted(count(sink.db()), rows,
              timeout));
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
      }
    }

    @Override
    public void close() {
      members.forEach(Node::close);
      Nodes.closeAndDispose(sink);
      sourceDb.dispose();
    }
  }
}
