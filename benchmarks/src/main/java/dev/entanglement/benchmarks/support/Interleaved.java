package dev.entanglement.benchmarks.support;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Runs variants in interleaved rounds (A B C, B C A, C A B...) so that a burst of noise from
 * other tenants, the JIT or the garbage collector hits every variant alike, and each variant
 * goes first equally often. Warm-up rounds run the same way and are discarded; there is at
 * least one, and more until {@code minWarmupNanos} have passed: on 2 cores the JIT needs several
 * seconds of a workload before its rate settles (H2 commits ramp up about tenfold over the first
 * 5-8 s of a cold JVM).
 */
public final class Interleaved {
  private Interleaved() {}

  /**
   * One variant: each call runs one round and returns its figures by name (one or more, e.g. a
   * replication rate and the source's commit rate during it).
   */
  public record Variant(String name, Callable<Map<String, Double>> round) {
    public static Variant single(String name, Callable<Double> round) {
      return new Variant(name, () -> Map.of(name, round.call()));
    }
  }

  /** The figures of the measured rounds, by name, in round order. */
  public static Map<String, Summary> run(long minWarmupNanos, int rounds, List<Variant> variants) throws Exception {
    Map<String, List<Double>> figures = new LinkedHashMap<>();
    int n = variants.size();
    long warmupStart = System.nanoTime();
    int warmups = 0;
    do {
      for (int i = 0; i < n; i++) {
        variants.get((warmups + i) % n).round().call();
      }
      warmups++;
    } while (System.nanoTime() - warmupStart < minWarmupNanos);
    for (int r = warmups; r < warmups + rounds; r++) {
      for (int i = 0; i < n; i++) {
        Map<String, Double> result = variants.get((r + i) % n).round().call();
        result.forEach((name, value) -> figures.computeIfAbsent(name, k -> new ArrayList<>()).add(value));
      }
    }
    Map<String, Summary> summaries = new LinkedHashMap<>();
    figures.forEach((name, values) -> summaries.put(name, new Summary(values)));
    return summaries;
  }
}
