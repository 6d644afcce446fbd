/**
 * Peer connections: the handshake, per-peer outboxes, flow-controlled sending and acknowledgement
 * tracking. Internal: no compatibility promise.
 */
package dev.entanglement.hibernate.internal.peer;
