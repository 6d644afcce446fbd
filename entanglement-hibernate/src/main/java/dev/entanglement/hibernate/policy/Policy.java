package dev.entanglement.hibernate.policy;

/**
 * Decides what each peer may see and change. Every method has a default that abstains, so a
 * policy implements only the control points it cares about. Policies must be thread-safe, fast
 * and must not block on the network: they run on the threads that send and apply.
 *
 * <h2>Control points, in the order they are asked</h2>
 * Sending an object to a peer (a committed change, a relayed change, catch-up, a transition):
 * <ol>
 *   <li>{@link #sendToPeer}: may anything go to this peer at all;</li>
 *   <li>{@link #send}: may this object go to this peer (the entity type's own policies first,
 *       see {@link dev.entanglement.hibernate.annotations.EntangledPolicy}, then the node's).</li>
 * </ol>
 * Receiving from a peer (a change, an update request, a transition):
 * <ol>
 *   <li>{@link #receiveFromPeer}: may this peer send anything at all;</li>
 *   <li>{@link #receiveMessage}: the message before anything is decoded or constructed (entity
 *       name, id, owner, attribute names): a small attack surface, cheap to decide;</li>
 *   <li>the plugin's own checks (well-formed, known entity and attributes, ownership);</li>
 *   <li>{@link #receiveObject}: the object as it would be written, next to the stored one.</li>
 * </ol>
 * At each point the decisions of all policies are combined deny-overrides: one denial wins (the
 * first denial's reason is reported); otherwise the object passes (an allow, or all abstain).
 * Later points are not asked once one denied.
 *
 * <h2>What a denial does</h2>
 * A denied send is never on the wire: the peer does not learn the object exists (and its
 * position still moves on, so it does not wait for it). A denied receive is answered in-band
 * with reason {@code POLICY} and the policy's reason, and changes nothing; it is not parked.
 * Every denial is counted per peer and reason and logged (once per peer and reason a minute at
 * INFO, every one at DEBUG).
 *
 * <h2>When decisions change</h2>
 * Decisions may depend on application state. When they change, call
 * {@code Entanglement.policyChanged()}: every peer is synchronized again under the new
 * decisions, so objects a peer may no longer see are withdrawn there and objects it may now see
 * arrive.
 */
public interface Policy {
  default Decision sendToPeer(Peer peer) {
    return Decision.abstain();
  }

  default Decision send(Peer peer, ObjectRef object) {
    return Decision.abstain();
  }

  default Decision receiveFromPeer(Peer peer) {
    return Decision.abstain();
  }

  default Decision receiveMessage(Peer peer, IncomingMessage message) {
    return Decision.abstain();
  }

  default Decision receiveObject(Peer peer, IncomingObject object) {
    return Decision.abstain();
  }
}
