package dev.entanglement.benchmarks.report;

import dev.entanglement.benchmarks.support.Summary;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects the figures: prints each one as soon as it is known (a long run shows progress and a
 * crash keeps what was measured), and the summary table at the end.
 */
public final class Report {
  private final PrintStream out;
  private final List<Row> rows = new ArrayList<>();
  private final long start = System.nanoTime();

  public Report(PrintStream out) {
    this.out = out;
  }

  /** Shown in the next section's title: the heap used after the full collection that precedes it. */
  private long heapBefore = -1;

  /** The heap used after the full collection before the next section. */
  public void heapBefore(long bytes) {
    heapBefore = bytes;
  }

  /** A section title with its method notes. */
  public void section(String title, String... notes) {
    out.println();
    // live threads: a section that left nodes or pools running would slow the ones after it
    out.printf("== %s   [at %.0f s; load average %s; %d live threads%s]%n", title, (System.nanoTime() - start) / 1e9,
        Environment.loadAverage(), java.lang.management.ManagementFactory.getThreadMXBean().getThreadCount(),
        heapBefore < 0 ? "" : "; heap after a full GC %,d MB".formatted(heapBefore >> 20));
    heapBefore = -1; // a scenario's second section did not start after one
    for (String note : notes) {
      out.println("   " + note);
    }
    out.flush();
  }

  /** A free-form line inside the current section. */
  public void note(String text) {
    out.println("   " + text);
    out.flush();
  }

  /** A figure against a reference measured in the same rounds of this run. */
  public void compare(String name, Summary value, String unit, String referenceName, Summary reference, Target target) {
    add(new Row(name, value, unit, referenceName, reference, Double.NaN, target, false));
  }

  /** Like {@link #compare}, shown as a detail of the figure above. */
  public void detail(String name, Summary value, String unit, String referenceName, Summary reference, Target target) {
    add(new Row(name, value, unit, referenceName, reference, Double.NaN, target, true));
  }

  /** A figure against a fixed bound (DESIGN.md, or limits-measured.md when it cannot run here). */
  public void against(String name, Summary value, String unit, String referenceName, double bound, Target target) {
    add(new Row(name, value, unit, referenceName, null, bound, target, false));
  }

  /** Like {@link #against}, shown as a detail of the figure above. */
  public void detailAgainst(String name, Summary value, String unit, String referenceName, double bound, Target target) {
    add(new Row(name, value, unit, referenceName, null, bound, target, true));
  }

  /** A figure given for context, without reference, shown as a detail of the figure above. */
  public void info(String name, Summary value, String unit) {
    add(new Row(name, value, unit, "", null, Double.NaN, null, true));
  }

  /** A figure without reference that starts a group of rows. */
  public void figure(String name, Summary value, String unit) {
    add(new Row(name, value, unit, "", null, Double.NaN, null, false));
  }

  private void add(Row row) {
    rows.add(row);
    StringBuilder line = new StringBuilder("   ").append(row.name()).append(": ")
        .append(Fmt.number(row.value().median())).append(' ').append(row.unit())
        .append(" (median of ").append(row.value().size()).append(", ").append(Fmt.range(row.value())).append(')');
    if (!Double.isNaN(row.ratio())) {
      line.append(" = x").append(Fmt.ratio(row.ratio())).append(" of ").append(row.referenceName()).append(' ')
          .append(Fmt.number(row.referenceMedian()));
      if (row.reference() != null) {
        line.append(" (").append(Fmt.range(row.reference())).append(')');
      }
      if (row.roundRatios() != null) {
        line.append(", per-round ratios ").append(Fmt.ratioRange(row.roundRatios()));
      }
    }
    if (row.target() != null) {
      line.append("; target ").append(row.target().text()).append(' ').append(row.verdict());
    }
    out.println(line);
    out.flush();
  }

  public List<Row> rows() {
    return List.copyOf(rows);
  }

  /** The closing table. */
  public void printTable() {
    List<String[]> cells = new ArrayList<>();
    cells.add(new String[] {"measurement", "median", "min - max", "unit", "same-run reference (median)",
        "ratio", "per-round ratio", "target", "result"});
    for (Row row : rows) {
      String reference = row.referenceName().isEmpty() ? ""
          : row.referenceName() + " " + Fmt.number(row.referenceMedian());
      cells.add(new String[] {
          (row.indent() ? "  " : "") + row.name(),
          Fmt.number(row.value().median()),
          Fmt.range(row.value()),
          row.unit(),
          reference,
          Fmt.ratio(row.ratio()),
          Fmt.ratioRange(row.roundRatios()),
          row.target() == null ? "" : row.target().text(),
          row.verdict()});
    }
    int[] widths = new int[cells.get(0).length];
    for (String[] line : cells) {
      for (int i = 0; i < line.length; i++) {
        widths[i] = Math.max(widths[i], line[i].length());
      }
    }
    boolean[] right = {false, true, true, false, false, true, true, false, false};
    out.println();
    out.println("== Summary");
    for (String[] line : cells) {
      StringBuilder text = new StringBuilder();
      for (int i = 0; i < line.length; i++) {
        String format = "%" + (right[i] ? "" : "-") + widths[i] + "s";
        text.append(String.format(format, line[i])).append(i + 1 < line.length ? "  " : "");
      }
      out.println(text.toString().stripTrailing());
    }
    long pass = rows.stream().filter(r -> r.verdict().equals("PASS")).count();
    long fail = rows.stream().filter(r -> r.verdict().equals("FAIL")).count();
    out.printf("targets met: %d of %d%n", pass, pass + fail);
    out.flush();
  }
}
