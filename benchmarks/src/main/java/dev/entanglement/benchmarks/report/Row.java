package dev.entanglement.benchmarks.report;

import dev.entanglement.benchmarks.support.Summary;

/**
 * One figure of the report.
 *
 * @param name what was measured
 * @param value its rounds (median reported, min-max shown)
 * @param unit the unit of value and reference
 * @param referenceName what it is compared with, e.g. "plugin off"
 * @param reference the reference's rounds, measured in the same run; null when there is none,
 *     or when the reference is a fixed figure (then {@code fixedReference} holds it)
 * @param fixedReference a reference that was not measured in this run (a DESIGN.md bound, a
 *     figure from limits-measured.md), or NaN
 * @param target the DESIGN.md target on the ratio, or null for a figure given for context
 * @param indent whether the row details the row above it
 */
public record Row(String name, Summary value, String unit, String referenceName, Summary reference,
    double fixedReference, Target target, boolean indent) {

  /** The ratio of the medians, or NaN without a reference. */
  public double ratio() {
    if (reference != null) {
      return value.median() / reference.median();
    }
    return Double.isNaN(fixedReference) ? Double.NaN : value.median() / fixedReference;
  }

  /** The ratio round by round, when value and reference ran in the same rounds; else null. */
  public Summary roundRatios() {
    return reference != null && reference.size() == value.size() && value.size() > 1
        ? value.ratioTo(reference) : null;
  }

  public double referenceMedian() {
    return reference != null ? reference.median() : fixedReference;
  }

  /** PASS or FAIL against the target; empty for context figures. */
  public String verdict() {
    if (target == null || Double.isNaN(ratio())) {
      return "";
    }
    return target.met().test(ratio()) ? "PASS" : "FAIL";
  }
}
