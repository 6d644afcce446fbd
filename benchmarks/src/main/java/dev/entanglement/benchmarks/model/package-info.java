/** The entities the scenarios write: BenchItem, shaped like the one in limits-measured.md, and WebItem for browsers. */
package dev.entanglement.benchmarks.model;
