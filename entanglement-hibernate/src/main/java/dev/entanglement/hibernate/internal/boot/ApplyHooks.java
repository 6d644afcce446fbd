package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.apply.InboundApplier;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the apply room asks of the rest of the node: removed owners and policies before
 * applying, and, once changes are durable, ownership, hand-overs, transitions, relaying and
 * waiting requests.
 *
 * <h2>Concurrency</h2>
 * Stateless; called on the apply path (one batch at a time per node).
 */
final class ApplyHooks implements InboundApplier.Hooks {
  private final NodeRuntime node;

  ApplyHooks(NodeRuntime node) {
    this.node = node;
  }

  @Override
  public String directionProblem(String owner, String peer) {
    return null; // routes come from the owner directory, not from where data came from

  }

  @Override
  public String deniedMessage(String peer, EntangledType type, Change change) {
    String removedBy = node.ownerRemoval.removedBy(change.getOwner());
    if (removedBy != null) {
      return "owner '%s' was removed by an operator at '%s'; its objects are not accepted".formatted(
          change.getOwner(), removedBy);
    }
    return node.policy.changeDenied(peer, type, change);
  }

  @Override
  public String signatureProblem(String peer, Change change) {
    if (node.signerKeys == null) {
      return null;
    }
    PeerConnection connection = node.peers.get(peer);
    if (connection != null && connection.browser()) {
      return null; // browsers sign nothing: their own ephemeral objects only (BrowserRules), signed here when sent on
    }
    if (change.getOperation() == dev.entanglement.proto.v1.Operation.WITHDRAW) {
      // made by the node that sends it (the owner, or a relay whose own policies now deny the
      // object), never the owner's signed state: it only removes this node's copy, which the
      // owner's next signed state restores, so it is taken from a peer that speaks for the owner
      // here (the owner, or the peer this node routes it through: SpeaksFor), like a sweep
      String problem = node.peerHost.speaksForProblem(dev.entanglement.hibernate.internal.peer.SpeaksFor.Claim.WITHDRAWAL,
          peer, change.getOwner());
      return problem == null ? null : "a withdrawal carries no owner's signature and peer '%s' does not speak for it: %s"
          .formatted(peer, problem);
    }
    return node.signerKeys.problem(change);
  }

  @Override
  public Outcome applyEphemeral(String peer, Change change) {
    return node.ephemerals.apply(peer, change);
  }

  @Override
  public boolean relayIgnored(String owner, String peer) {
    return !owner.equals(peer) && node.peers.isConnected(owner);
  }

  @Override
  public boolean objectStage() {
    return node.policy.objectStage();
  }

  @Override
  public String deniedObject(String peer, EntangledType type, Change change, Object incoming, Object stored) {
    return node.policy.objectDenied(peer, type, node.policy.messageOf(type, change), incoming, stored);
  }

  @Override
  public void writing(String key, Change change) {
    String effectiveOwner = change.getHandoverTo().isEmpty() ? change.getOwner() : change.getHandoverTo();
    if (change.getOperation() == Operation.UPSERT && !effectiveOwner.equals(node.config.nodeName())) {
      // before the row is visible; if the transaction rolls back, the entry names the owner of an
      // object this node does not hold, which vetoes nothing (inserts are never vetoed)
      node.ownership.owned(key, effectiveOwner);
    }
  }

  @Override
  public void parkedRaw(String peer, List<Change> changes) {
    node.router.relayRaw(peer, changes);
  }

  @Override
  public boolean recordsPriorStates() {
    return !node.policy.engine().isEmpty();
  }

  @Override
  public void applied(String peer, List<Change> changes) {
    applied(peer, changes, Map.of());
  }

  @Override
  public void committed(String peer, List<Change> changes, Set<Change> inserted) {
    node.appliedChanges.committed(peer, changes, inserted);
  }

  @Override
  public void swept(String peer, EntangledType type, Object id, String owner) {
    node.appliedChanges.swept(peer, type, id, owner);
  }

  @Override
  public void applied(String peer, List<Change> changes, Map<Change, Change> previous) {
    String self = node.config.nodeName();
    for (Change change : changes) {
      String key = node.applier.objectKey(change);
      if (key != null) {
        String effectiveOwner = change.getHandoverTo().isEmpty() ? change.getOwner() : change.getHandoverTo();
        if (change.getOperation() == Operation.WITHDRAW) {
          node.ownership.gone(key);
          node.withdrawals.applied(peer, key, change);
        } else if (change.getOperation() == Operation.DELETE) {
          node.ownership.gone(key);
        } else if (!effectiveOwner.equals(self)) {
          node.ownership.owned(key, effectiveOwner);
        }
        if (node.handoverChains != null && change.getHandoverTo().equals(self)) {
          node.handoverChains.learned(key, change); // before the take-over is signed and sent
        }
        node.handover.applied(key, change);
        node.transitions.committed(key, change);
      }
    }
    node.router.relay(peer, changes, previous);
    node.forwarder.applied(changes);
  }
}
