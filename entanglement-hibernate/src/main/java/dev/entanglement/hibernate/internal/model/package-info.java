/**
 * The replicated entity types and how their values travel on the wire. Internal: no
 * compatibility promise.
 */
package dev.entanglement.hibernate.internal.model;
