/**
 * The measurements, one class each, in the order DESIGN.md lists its targets: capture overhead,
 * end-to-end and bulk throughput, commit-to-visible latency, a slow link, catch-up and memory.
 * Every one measures its reference in the same run (or says where a fixed bound comes from).
 */
package dev.entanglement.benchmarks.scenarios;
