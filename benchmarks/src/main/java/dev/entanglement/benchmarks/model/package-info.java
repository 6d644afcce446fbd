/** The entity every scenario writes, shaped like the one in limits-measured.md. */
package dev.entanglement.benchmarks.model;
