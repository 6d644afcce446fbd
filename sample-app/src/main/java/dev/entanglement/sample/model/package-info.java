/**
 * The demo's entities: a {@link dev.entanglement.sample.model.Board} and its
 * {@link dev.entanglement.sample.model.Task}s, both {@code @Entangled}, with an embeddable
 * {@link dev.entanglement.sample.model.Assignment}. Ids are UUIDs, so that every node can create
 * objects without asking the others.
 */
package dev.entanglement.sample.model;
