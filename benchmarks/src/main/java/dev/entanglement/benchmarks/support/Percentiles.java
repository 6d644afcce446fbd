package dev.entanglement.benchmarks.support;

import java.util.Arrays;

/** Nearest-rank percentiles of one round's samples. */
public final class Percentiles {
  private final long[] sorted;

  public Percentiles(long[] samples) {
    if (samples.length == 0) {
      throw new IllegalArgumentException("no samples");
    }
    this.sorted = samples.clone();
    Arrays.sort(sorted);
  }

  /** The smallest sample with at least {@code p} percent of the samples at or below it. */
  public long at(double p) {
    // the epsilon keeps 99.9 * 1000 / 100 at rank 999 (floating point makes it 999.0000000000001)
    int rank = (int) Math.ceil(p * sorted.length / 100.0 - 1e-9);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  public long max() {
    return sorted[sorted.length - 1];
  }

  public int count() {
    return sorted.length;
  }
}
