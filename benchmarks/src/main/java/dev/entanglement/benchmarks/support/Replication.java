package dev.entanglement.benchmarks.support;

import java.util.function.Function;

/**
 * One timed replication round: the source runs a workload, then the round waits until the sink
 * has answered every change ({@code Entanglement.caughtUp}); the replication rate counts from
 * the first commit to the last acknowledgement, so a sink that falls behind pays for its whole
 * backlog. The sink's row count is checked, so a lost change fails the run instead of flattering
 * the figure.
 */
public final class Replication {
  private Replication() {}

  /**
   * @param source what the source committed and how long it took
   * @param totalNanos from the first commit until the sink had answered the last change
   */
  public record Round(Workload.Done source, long totalNanos) {
    /** Rows (or changes) per second applied at the sink, first commit to last acknowledgement. */
    public double replicatedPerSecond() {
      return source.count() / (totalNanos / 1e9);
    }

    /** How long the sink needed after the source stopped. */
    public double drainMillis() {
      return (totalNanos - source.nanos()) / 1e6;
    }
  }

  /** Runs {@code workload} on the pair's source (it returns rows inserted) and waits for the sink. */
  public static Round timed(Pair pair, Function<Node, Workload.Done> workload) {
    long before = pair.sink().countItems();
    long start = System.nanoTime();
    Workload.Done done = workload.apply(pair.source());
    pair.awaitCaughtUp();
    long total = System.nanoTime() - start;
    long arrived = pair.sink().countItems() - before;
    if (arrived != done.count()) {
      throw new IllegalStateException("the sink has %,d new rows, the source inserted %,d".formatted(arrived, done.count()));
    }
    return new Round(done, total);
  }
}
