package dev.entanglement.benchmarks.scenarios;

import dev.entanglement.benchmarks.report.Report;
import dev.entanglement.benchmarks.support.Options;

/** One measurement of the report. */
public interface Scenario {
  /** The name {@code --only} selects it by. */
  String id();

  /** Measures and adds its figures to the report; cleans up what it started. */
  void run(Options options, Report report) throws Exception;
}
