package dev.entanglement.sample.entangled;

import java.util.List;

/**
 * The body of {@code POST /api/1/force}. Immutable.
 *
 * @param node the node whose files the peer is aligned to
 * @param peer the peer being aligned
 * @param forced the files sent as new versions that supersede the peer's
 * @param alreadyAligned the files that had the same content on both nodes already
 * @param skipped the files that could not be forced, each with the reason
 */
record ForceReport(String node, String peer, List<String> forced, List<String> alreadyAligned, List<Skipped> skipped) {

  /** A file that was not forced, and why. */
  record Skipped(String path, String reason) {}
}
