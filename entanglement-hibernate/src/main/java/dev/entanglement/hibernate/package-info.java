/**
 * The public API of Entanglement for Hibernate: {@link dev.entanglement.hibernate.Entanglement}
 * (the running node of a SessionFactory), {@link dev.entanglement.hibernate.EntanglementSettings}
 * (the persistence.xml properties) and the exceptions. Everything under {@code internal} may
 * change without notice.
 */
package dev.entanglement.hibernate;
