package dev.entanglement.benchmarks.report;

import dev.entanglement.benchmarks.support.Summary;

/** Number formats of the report: thousands separators for large figures, 3 digits for small. */
final class Fmt {
  private Fmt() {}

  static String number(double v) {
    if (Double.isNaN(v)) {
      return "";
    }
    double a = Math.abs(v);
    if (a >= 100) {
      return String.format("%,.0f", v);
    }
    if (a >= 10) {
      return String.format("%.1f", v);
    }
    return String.format("%.2f", v);
  }

  static String range(Summary s) {
    return s.size() == 1 ? "(1 run)" : number(s.min()) + " - " + number(s.max());
  }

  static String ratio(double r) {
    return Double.isNaN(r) ? "" : String.format("%.3f", r);
  }

  static String ratioRange(Summary s) {
    return s == null ? "" : String.format("%.2f - %.2f", s.min(), s.max());
  }
}
