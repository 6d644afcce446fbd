/**
 * Capture of committed changes: the Hibernate listener that records this node's changes
 * ({@code CaptureListener}), the guard that turns writes of other nodes' objects into update
 * requests ({@code OwnershipGuard}), and the per-transaction record that writes bookkeeping before
 * commit and offers snapshots to peers after it. Internal: no compatibility promise.
 */
package dev.entanglement.hibernate.internal.capture;
