/** The benchmark harness ({@link dev.entanglement.benchmarks.BenchmarkMain}): not part of the product. */
package dev.entanglement.benchmarks;
