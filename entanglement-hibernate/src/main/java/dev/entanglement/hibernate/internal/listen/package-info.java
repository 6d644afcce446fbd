/**
 * What follows a peer's change once it committed at this node, beyond replication: its rows leave
 * Hibernate's second-level cache, and the application's change listeners hear of it on a plugin
 * thread. Internal: no compatibility promise.
 */
package dev.entanglement.hibernate.internal.listen;
