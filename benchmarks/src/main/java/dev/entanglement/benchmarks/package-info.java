/**
 * The benchmark harness: {@link dev.entanglement.benchmarks.BenchmarkMain} runs the scenarios
 * and prints every figure next to a baseline measured in the same run. Not part of the product,
 * and never run by {@code mvn verify}.
 */
package dev.entanglement.benchmarks;
