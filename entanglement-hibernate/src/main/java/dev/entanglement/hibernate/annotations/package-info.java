/**
 * Annotations that mark what is replicated: {@link dev.entanglement.hibernate.annotations.Entangled}
 * on an entity, {@link dev.entanglement.hibernate.annotations.NotEntangled} on an attribute to
 * leave out. Public API.
 */
package dev.entanglement.hibernate.annotations;
