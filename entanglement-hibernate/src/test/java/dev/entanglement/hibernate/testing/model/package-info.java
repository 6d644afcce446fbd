/** Entities used by the tests: one per supported mapping. */
package dev.entanglement.hibernate.testing.model;
