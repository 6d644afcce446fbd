/**
 * Boot: the Hibernate Integrator and the validated settings. Internal: no compatibility promise.
 */
package dev.entanglement.hibernate.internal.boot;
