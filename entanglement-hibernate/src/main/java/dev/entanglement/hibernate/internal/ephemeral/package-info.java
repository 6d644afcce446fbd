/**
 * Ephemeral objects: records kept in memory and synchronized like entities, without a database.
 * {@code EphemeralStore} is the facade the node calls; the replicated state and its rules are in
 * the pure {@code EphemeralTable}, time to live in {@code EphemeralExpiry}, delivery to peers and
 * listeners in {@code EphemeralFanout}.
 */
package dev.entanglement.hibernate.internal.ephemeral;
