package dev.entanglement.sample.entangled;

/**
 * Judges one file from one node's point of view: its own version, and the peer's as last
 * received. Pure, so both nodes reach the same judgement from the same two rows.
 *
 * <p>A version is {@code (generation, basedOn)}: the node's own change count, and the peer's
 * generation it had seen when it made the version. The peer's version <em>supersedes</em> ours
 * when it was made knowing ours ({@code peer.basedOn >= own.generation}) and ours was not made
 * knowing it. Then:
 * <ul>
 *   <li>if it was made while the nodes could reach each other, this node adopts it (misaligned
 *       until written);</li>
 *   <li>if it was made while they were apart, it is split-brain: reconnecting alone overwrites
 *       nothing.</li>
 * </ul>
 * When neither supersedes (different at start, or changed on both nodes independently), it is
 * split-brain too. A further change made while connected is based on the peer's version it has
 * seen, so it supersedes and resolves the split-brain; so does a forced alignment. A node that
 * finds the peer's content equal to its own records the peer's generation as seen (the
 * {@link FileReplicator}'s poll does), so after aligned nodes, the next change on either side
 * supersedes, and a deletion is told apart from a conflict.
 */
final class Alignment {
  private Alignment() {}

  /** How the two nodes' files stand. */
  enum Status {
    ALIGNED("aligned"),
    MISALIGNED("misaligned"),
    SPLIT_BRAIN("split-brain");

    private final String label;

    Status(String label) {
      this.label = label;
    }

    /** As reported by the HTTP API. */
    String label() {
      return label;
    }
  }

  /** What this node does about it. */
  enum Action {
    NONE,
    /** Write the peer's content to this node's file. */
    ADOPT_PEER
  }

  /** A judgement, with a sentence for operators. */
  record Verdict(Status status, Action action, String detail) {}

  static Verdict judge(VersionRow own, VersionRow peer) {
    if (peer == null) {
      return new Verdict(Status.MISALIGNED, Action.NONE, "no version of this file has been received from the peer"
          + " yet (it is not connected, or does not list the file)");
    }
    if (own.sameContent(peer)) {
      return new Verdict(Status.ALIGNED, Action.NONE, own.present() ? "same content on both nodes" : "missing on both nodes");
    }
    boolean peerSawOurs = peer.basedOn() >= own.generation();
    boolean weSawPeers = own.basedOn() >= peer.generation();
    if (peerSawOurs && weSawPeers) {
      // both versions were made knowing the other: only a deletion since can make them differ
      String missingOn = own.present() ? peer.node() : own.node();
      return new Verdict(Status.MISALIGNED, Action.NONE, "the file was deleted on node '" + missingOn
          + "'; deletions are not replicated: it is written again when the other node changes it or forces alignment");
    }
    if (peerSawOurs) {
      return newer(peer, own, Action.ADOPT_PEER);
    }
    if (weSawPeers) {
      return newer(own, peer, Action.NONE);
    }
    return new Verdict(Status.SPLIT_BRAIN, Action.NONE, "the versions of node '" + own.node() + "' (generation "
        + own.generation() + ") and node '" + peer.node() + "' (generation " + peer.generation()
        + ") were made independently (different at start, or changed on both nodes): nothing is overwritten"
        + " until the file changes again while both nodes are connected, or one node forces alignment");
  }

  /** The newer version supersedes the older; {@code action} is this node's if it gets written. */
  private static Verdict newer(VersionRow newer, VersionRow older, Action action) {
    if (newer.changedApart()) {
      return new Verdict(Status.SPLIT_BRAIN, Action.NONE, "node '" + newer.node() + "' changed the file (generation "
          + newer.generation() + ") while the nodes could not reach each other: nothing is overwritten until the"
          + " file changes again while both nodes are connected, or one node forces alignment");
    }
    if (!newer.present()) {
      return new Verdict(Status.MISALIGNED, Action.NONE, "the newer version, node '" + newer.node()
          + "''s, is a missing file; deletions are not replicated");
    }
    return new Verdict(Status.MISALIGNED, action, "node '" + newer.node() + "''s change (generation "
        + newer.generation() + ") is being written to node '" + older.node() + "'");
  }
}
