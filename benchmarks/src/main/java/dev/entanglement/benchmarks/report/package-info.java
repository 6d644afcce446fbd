/**
 * The report: the header (machine, JVM, versions), one line per figure as it is measured, and
 * the closing table with each figure's same-run reference, ratio, target and verdict.
 */
package dev.entanglement.benchmarks.report;
