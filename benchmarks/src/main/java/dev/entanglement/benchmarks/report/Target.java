package dev.entanglement.benchmarks.report;

import java.util.function.DoublePredicate;

/**
 * A target from DESIGN.md on a figure's ratio to its reference.
 *
 * @param text how the table states it
 * @param met whether a ratio meets it
 */
public record Target(String text, DoublePredicate met) {
  public static Target atLeast(double ratio) {
    return new Target(">= " + ratio, r -> r >= ratio);
  }

  public static Target atMost(double ratio) {
    return new Target("<= " + ratio, r -> r <= ratio);
  }

  public static Target below(double ratio) {
    return new Target("< " + ratio, r -> r < ratio);
  }
}
