/**
 * Transitions: provisional object state flooded to every node and never persisted, ended or
 * broken by the owner's commits. See {@code docs/design/transitions.md}.
 */
package dev.entanglement.hibernate.internal.transition;
