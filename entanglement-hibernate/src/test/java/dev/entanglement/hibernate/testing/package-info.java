/** Test fixtures: nodes with their own databases, embedded PostgreSQL, raw gRPC peers. */
package dev.entanglement.hibernate.testing;
