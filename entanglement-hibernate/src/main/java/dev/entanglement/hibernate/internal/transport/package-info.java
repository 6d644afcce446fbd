/**
 * gRPC glue: the Replication service, dialing with backoff, servers and channels. Internal: no
 * compatibility promise.
 */
package dev.entanglement.hibernate.internal.transport;
