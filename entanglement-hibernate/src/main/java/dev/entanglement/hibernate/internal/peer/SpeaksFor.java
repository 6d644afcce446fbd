package dev.entanglement.hibernate.internal.peer;

/**
 * Who may speak for an owner in what carries no owner's signature: a full synchronization's sweep
 * and its end position, a batch's positions, a withdrawal, an owner removal. With signed state a
 * change is the owner's word; these messages are the sender's word about the owner, so they are
 * taken only from a peer that stands where the owner's data comes from (issue 17, hostile peers):
 *
 * <ol>
 *   <li>the owner itself;</li>
 *   <li>never about this node (only this node speaks for its own objects);</li>
 *   <li>never from another peer while the owner is connected here directly (its own stream is the
 *       one source of its state here, as for relayed changes);</li>
 *   <li>never from a peer other than the one this node's owner directory routes the owner
 *       through;</li>
 *   <li>with no route at all (the owner is away): only about an owner whose certificate this node
 *       holds (it received the owner's signed objects before), except an owner removal, which
 *       must flood on to nodes that never held the owner's objects.</li>
 * </ol>
 *
 * The rule applies only with signed state ({@code entanglement.signing=required}); without it
 * every trusted peer speaks for every owner (a network of trusted relays, see docs/security.md).
 * Remaining risk, documented there: while an owner is away and no route to it is known, a peer
 * can still sweep or withdraw that owner's objects this node holds; the owner's next signed state
 * (or the next full synchronization from its route) restores them.
 *
 * <h2>Concurrency</h2>
 * Stateless: a pure function of what the caller read.
 */
public final class SpeaksFor {
  private SpeaksFor() {}

  /** What a peer says about an owner. */
  public enum Claim {
    SWEEP("a full synchronization"),
    POSITION("a position"),
    WITHDRAWAL("a withdrawal"),
    REMOVAL("an owner removal");

    private final String shown;

    Claim(String shown) {
      this.shown = shown;
    }

    /** As a log line names it, e.g. "a withdrawal". */
    public String shown() {
      return shown;
    }
  }

  /**
   * Why {@code peer} may not say {@code claim} about {@code owner} at {@code node}, or null when it
   * may.
   *
   * @param connected whether the owner is connected to this node directly now
   * @param route the peer this node's owner directory routes the owner through, or null (no route)
   * @param certificateKnown whether this node holds the owner's certificate
   */
  public static String problem(Claim claim, String node, String peer, String owner, boolean connected, String route,
      boolean certificateKnown) {
    if (owner.equals(peer)) {
      return null;
    }
    if (owner.equals(node)) {
      return "only node '%s' speaks for its own objects".formatted(node);
    }
    if (connected) {
      return "owner '%s' is connected to node '%s' directly and speaks for itself".formatted(owner, node);
    }
    if (route != null && !route.equals(peer)) {
      return "node '%s' reaches owner '%s' through '%s', not through peer '%s'".formatted(node, owner, route, peer);
    }
    if (route == null && !certificateKnown && claim != Claim.REMOVAL) {
      return "node '%s' has no route to owner '%s' and has never held a signed state of it".formatted(node, owner);
    }
    return null;
  }
}
