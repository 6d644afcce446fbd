/**
 * Signed state: this node signs the changes it owns with its node key (the TLS private key), and
 * checks the signatures of everyone else's against certificates it accepted under its own trust.
 * Pure functions and small thread-safe holders; no I/O beyond the JCA. Depends on nothing
 * internal but {@code core}.
 */
package dev.entanglement.hibernate.internal.signing;
