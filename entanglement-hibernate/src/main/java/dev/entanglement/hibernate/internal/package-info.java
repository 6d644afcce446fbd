/**
 * The running node that ties capture, peers and apply together. Internal: no compatibility
 * promise; applications use {@link dev.entanglement.hibernate.Entanglement}.
 */
package dev.entanglement.hibernate.internal;
