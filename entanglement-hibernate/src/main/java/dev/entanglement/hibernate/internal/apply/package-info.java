/**
 * Applying peers' changes to the local database, with their bookkeeping, in batched
 * transactions. Internal: no compatibility promise.
 */
package dev.entanglement.hibernate.internal.apply;
