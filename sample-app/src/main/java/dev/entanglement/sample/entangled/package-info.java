/**
 * {@code entangled}: keeps configuration files aligned on a cluster of two nodes, through the
 * plugin. Each node stores its own version of every listed file as a
 * {@link dev.entanglement.sample.entangled.FileVersion} row it owns; the plugin replicates the
 * rows; each node writes the peer's content to its own file when the peer's version supersedes
 * its own, and reports split-brain when neither does. A management HTTP API
 * ({@code /api/1/state}, {@code /api/1/force}, OpenAPI and a Swagger UI page) runs on every node.
 * Start it with {@link dev.entanglement.sample.entangled.EntangledMain}; the rules are in
 * {@code docs/entangled.md}.
 */
package dev.entanglement.sample.entangled;
