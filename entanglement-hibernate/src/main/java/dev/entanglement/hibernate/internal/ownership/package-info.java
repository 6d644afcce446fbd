/**
 * Ownership: which node decides each object, update requests forwarded hop by hop to the owner,
 * and the owner's side that decides them. Internal: no compatibility promise.
 */
package dev.entanglement.hibernate.internal.ownership;
