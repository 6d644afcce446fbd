/**
 * The exercise demo: exercise staff, the range (a gateway) and the red and blue teams, each a
 * node with its own database; the teams share with staff, never with each other.
 */
package dev.entanglement.sample.exercise;
