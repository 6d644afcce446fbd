/**
 * Applying peers' changes to the local database, with their bookkeeping, in batched
 * transactions: {@link dev.entanglement.hibernate.internal.apply.InboundApplier} orchestrates a
 * batch through validation, {@link dev.entanglement.hibernate.internal.apply.StateOrdering} (a
 * pure decision), the entity write, parking and positions, all in one transaction; the sweep of a
 * full synchronization and owner removal live beside it. The only package on the replication
 * path (with {@code store}) that opens database transactions. Internal: no compatibility promise.
 */
package dev.entanglement.hibernate.internal.apply;
