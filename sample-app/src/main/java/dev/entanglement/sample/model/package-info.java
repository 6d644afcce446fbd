/** The demo's entities: a board and its tasks, both {@code @Entangled}. */
package dev.entanglement.sample.model;
