/** Ephemeral objects: records kept in memory and synchronized like entities, without a database. */
package dev.entanglement.hibernate.internal.ephemeral;
