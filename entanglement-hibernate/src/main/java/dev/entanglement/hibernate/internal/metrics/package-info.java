/** Metrics: Micrometer meters when Micrometer is on the classpath, nothing otherwise. */
package dev.entanglement.hibernate.internal.metrics;
