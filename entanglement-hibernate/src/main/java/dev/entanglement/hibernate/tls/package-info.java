/**
 * Mutual TLS helpers: certificate fingerprints (a node's identity) and development certificates
 * created with one command. See {@code docs/security.md}.
 */
package dev.entanglement.hibernate.tls;
