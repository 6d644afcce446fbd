package dev.entanglement.benchmarks.profile;

import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.DbSettings;
import dev.entanglement.benchmarks.support.Node;
import dev.entanglement.benchmarks.support.Workload;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A steady load to profile, not a benchmark: one thread commits single-row inserts on H2 in
 * memory (or PostgreSQL: second argument {@code postgresql}), with the plugin off for the first
 * half and on (no peer) for the second, each in a
 * thread of its own name, so a JFR recording separates them. Run it with a recording:
 *
 * <pre>{@code
 * mvn -B -q -DskipTests install
 * MAVEN_OPTS="-XX:StartFlightRecording=filename=/tmp/capture.jfr,settings=profile" \
 *   mvn -B -q -pl benchmarks exec:java -Dexec.mainClass=dev.entanglement.benchmarks.profile.CaptureProfile
 * }</pre>
 *
 * and read the samples of the threads {@code profile-off} and {@code profile-on}
 * ({@code jfr print --events jdk.ExecutionSample}); {@code benchmarks/README.md} says how.
 */
public final class CaptureProfile {
  private CaptureProfile() {}

  public static void main(String[] args) throws Exception {
    long seconds = args.length > 0 ? Long.parseLong(args[0]) : 20;
    Db db = args.length > 1 ? Db.valueOf(args[1].toUpperCase(java.util.Locale.ROOT)) : Db.H2;
    DbSettings offDb = db.fresh("profile_off");
    DbSettings onDb = db.fresh("profile_on");
    try (Node off = Node.plain(offDb, Map.of()); Node on = Node.start("profiled", onDb, Map.of())) {
      Workload.insertFor(off, TimeUnit.SECONDS.toNanos(seconds / 4)); // warm-up, both code paths
      Workload.insertFor(on, TimeUnit.SECONDS.toNanos(seconds / 4));
      for (Node node : new Node[] {off, on}) {
        Thread thread = new Thread(() -> {
          Workload.Done done = Workload.insertFor(node, TimeUnit.SECONDS.toNanos(seconds));
          System.out.printf("%s: %,.0f commits/s, %.1f us per commit%n", Thread.currentThread().getName(),
              done.perSecond(), done.nanos() / 1e3 / done.count());
        }, node == off ? "profile-off" : "profile-on");
        thread.start();
        thread.join();
      }
    } finally {
      offDb.dispose();
      onDb.dispose();
      Db.stopPostgres();
    }
  }
}
