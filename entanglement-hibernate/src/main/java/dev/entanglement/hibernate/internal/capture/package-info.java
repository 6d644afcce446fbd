/**
 * Capture of committed changes: Hibernate event listeners and the per-transaction record that
 * writes bookkeeping before commit and offers snapshots to peers after it. Internal: no
 * compatibility promise.
 */
package dev.entanglement.hibernate.internal.capture;
