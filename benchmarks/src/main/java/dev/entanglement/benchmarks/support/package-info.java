/**
 * What the scenarios are built from: databases ({@link dev.entanglement.benchmarks.support.Db}),
 * nodes and pairs of nodes, the single-row and bulk workloads, interleaved rounds and their
 * summaries, and pacing to absolute deadlines.
 */
package dev.entanglement.benchmarks.support;
