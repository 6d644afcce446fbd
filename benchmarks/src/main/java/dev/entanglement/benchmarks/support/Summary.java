package dev.entanglement.benchmarks.support;

import java.util.ArrayList;
import java.util.List;

/**
 * The rounds of one figure: the median is what the report states, min and max show the spread
 * the machine allowed (2 shared cores: the spread is part of the result).
 */
public record Summary(List<Double> values) {
  public Summary {
    if (values.isEmpty()) {
      throw new IllegalArgumentException("no values");
    }
    values = List.copyOf(values);
  }

  public static Summary of(double... values) {
    List<Double> list = new ArrayList<>();
    for (double v : values) {
      list.add(v);
    }
    return new Summary(list);
  }

  public double median() {
    List<Double> sorted = sorted();
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  public double min() {
    return sorted().get(0);
  }

  public double max() {
    return sorted().get(values.size() - 1);
  }

  public int size() {
    return values.size();
  }

  /** Round by round {@code this / reference}: the ratio as each round saw it. */
  public Summary ratioTo(Summary reference) {
    if (reference.size() != size()) {
      throw new IllegalArgumentException("rounds differ: " + size() + " vs " + reference.size());
    }
    List<Double> ratios = new ArrayList<>();
    for (int i = 0; i < size(); i++) {
      ratios.add(values.get(i) / reference.values.get(i));
    }
    return new Summary(ratios);
  }

  private List<Double> sorted() {
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(Double::compare);
    return sorted;
  }
}
