package dev.entanglement.sample.entangled;

import java.util.List;

/**
 * The body of {@code GET /api/1/state}: how every listed file stands on this node and on its
 * peer. Immutable; serialized by Jackson with these component names.
 *
 * @param node this node's name
 * @param peer the peer's name (the connected peer, or the node whose versions were received), or null
 * @param peerConnected whether the plugin has an open stream with the peer
 * @param files one entry per listed file, in the order listed
 */
record StateReport(String node, String peer, boolean peerConnected, List<FileReport> files) {

  /**
   * One file.
   *
   * @param path its name in the cluster (its path under the node's root)
   * @param file where it is on this node
   * @param status {@code aligned}, {@code misaligned} or {@code split-brain}
   * @param detail why, in a sentence
   * @param problem what went wrong reading or writing it on this node, or null
   * @param local this node's version
   * @param remote the peer's version as last received, or null
   */
  record FileReport(String path, String file, String status, String detail, String problem,
      VersionReport local, VersionReport remote) {}

  /**
   * One node's version of a file.
   *
   * @param node whose version
   * @param present whether the file exists there
   * @param md5 its MD5 (hex), null if missing
   * @param size its size in bytes
   * @param modified its modification time there (ISO-8601, UTC, milliseconds), null if missing
   * @param generation how many times that node changed it
   * @param basedOn the other node's generation this version was made knowing
   * @param changedApart whether it was made while the nodes could not reach each other
   * @param cause how it came to be: REGISTERED, CHANGED, ADOPTED, FORCED or DELETED
   * @param recorded when that node recorded it (ISO-8601)
   */
  record VersionReport(String node, boolean present, String md5, long size, String modified, long generation,
      long basedOn, boolean changedApart, String cause, String recorded) {

    static VersionReport of(VersionRow row) {
      if (row == null) {
        return null;
      }
      return new VersionReport(row.node(), row.present(), row.md5(), row.size(),
          row.modified() == null ? null : row.modified().toString(), row.generation(), row.basedOn(),
          row.changedApart(), row.cause() == null ? null : row.cause().name(),
          row.recorded() == null ? null : row.recorded().toString());
    }
  }
}
