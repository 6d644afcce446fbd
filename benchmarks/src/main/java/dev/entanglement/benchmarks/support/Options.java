package dev.entanglement.benchmarks.support;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The command line: {@code [--quick] [--only NAME[,NAME...]]}. A quick run (about 2 minutes)
 * shortens rounds and takes fewer of them; its figures are noisier and meant for a check after a
 * change, the full run (about 10 minutes) for the record.
 *
 * @param quick whether to run the quick plan
 * @param only the scenarios to run; empty means all
 */
public record Options(boolean quick, Set<String> only) {
  public static final String USAGE = """
      usage: BenchmarkMain [--quick] [--only NAME[,NAME...]]
        --quick   short rounds, fewer of them (about 2 minutes instead of about 10)
        --only    run only these scenarios: %s""";

  /** Parses the arguments; every scenario name in {@code known}. */
  public static Options parse(String[] args, List<String> known) {
    boolean quick = false;
    Set<String> only = new LinkedHashSet<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i].trim();
      switch (arg) {
        case "" -> { } // exec:java passes an empty exec.args as one empty argument
        case "--quick" -> quick = true;
        case "--full" -> quick = false;
        case "--only" -> {
          if (i + 1 >= args.length) {
            throw new IllegalArgumentException("--only needs a list of scenarios");
          }
          for (String name : args[++i].split(",")) {
            if (!known.contains(name.trim())) {
              throw new IllegalArgumentException("unknown scenario '" + name + "'; known: " + known);
            }
            only.add(name.trim());
          }
        }
        default -> throw new IllegalArgumentException("unknown argument '" + arg + "'");
      }
    }
    return new Options(quick, only);
  }

  public boolean runs(String scenario) {
    return only.isEmpty() || only.contains(scenario);
  }

  public String mode() {
    return quick ? "quick" : "full";
  }

  /** The quick or the full plan's value. */
  public int pick(int quickValue, int fullValue) {
    return quick ? quickValue : fullValue;
  }

  /** How long the whole JVM warms up before the first scenario ({@link JvmWarmup}). */
  public long jvmWarmupNanos() {
    return millis(6000, 20000);
  }

  /**
   * The least warm-up per measurement, in nanoseconds, after the JVM's: each scenario has paths
   * of its own (PostgreSQL, bulk batches) whose rates take seconds to settle on 2 cores.
   */
  public long warmupNanos() {
    return millis(2000, 6000);
  }

  public long millis(long quickMillis, long fullMillis) {
    return (quick ? quickMillis : fullMillis) * 1_000_000L;
  }
}
