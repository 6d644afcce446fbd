package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.internal.signing.NodeSigner;
import dev.entanglement.hibernate.internal.signing.SignerKeys;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.OwnerCertificate;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Signed state on one stream to a node: signs the changes this node speaks for as they go into a
 * batch (its own objects, and ephemeral objects of browsers connected to it), and names the
 * certificates of the other owners in the batch that were not sent on this stream yet, so that a
 * peer learns an owner's certificate together with that owner's first object it receives (which
 * its policies let it have) and always before it must verify one.
 *
 * <p>Signing happens here, when a batch is built for a peer, not when the application commits:
 * the committing thread pays nothing, and a node with no connected peer signs nothing. Each peer's
 * batch is signed for that peer (N peers: N signatures of a change).
 *
 * <h2>Concurrency</h2>
 * Confined to the connection's serial executor (where batches are built); {@code sent} holds at
 * most one entry per owner the {@link SignerKeys} keep.
 */
final class StreamSigning {
  private final NodeSigner signer;
  private final SignerKeys keys;
  private final Predicate<String> hostsBrowser;
  private final String peer;
  private final Set<String> sent = new HashSet<>();
  private final java.util.function.Function<Change, List<Change>> chains;

  /**
   * @param chains the signed hand-overs that lead to this node's ownership of an object it took
   *     over (empty when it has none: its receivers then refuse the state)
   */
  StreamSigning(NodeSigner signer, SignerKeys keys, Predicate<String> hostsBrowser, String peer,
      java.util.function.Function<Change, List<Change>> chains) {
    this.chains = chains;
    this.signer = signer;
    this.keys = keys;
    this.hostsBrowser = hostsBrowser;
    this.peer = peer;
  }

  /** The changes, those this node speaks for signed (a signature already there is a relayed owner's, kept as it is). */
  List<Change> sign(List<Change> changes) {
    List<Integer> mine = new ArrayList<>();
    List<Change> toSign = new ArrayList<>();
    for (int i = 0; i < changes.size(); i++) {
      Change change = changes.get(i);
      if (change.getSignature().isEmpty() && !change.getEphemeralPathLost() && speaksFor(change)) {
        if (change.getEpoch() > 0 && !change.getEphemeral() && change.getHandoversCount() == 0) {
          change = change.toBuilder().addAllHandovers(chains.apply(change)).build();
        }
        mine.add(i);
        toSign.add(change);
      }
    }
    if (mine.isEmpty()) {
      return changes;
    }
    // one signature for the batch: the root of a hash tree, each change carrying its path
    List<Change> signedOnes = signer.signAll(toSign);
    List<Change> signed = new ArrayList<>(changes);
    for (int k = 0; k < mine.size(); k++) {
      signed.set(mine.get(k), signedOnes.get(k));
    }
    return signed;
  }

  private boolean speaksFor(Change change) {
    return change.getOwner().equals(signer.nodeName()) || (change.getEphemeral() && hostsBrowser.test(change.getOwner()));
  }

  /** The certificates of the batch's other owners this stream has not carried yet (and now has). */
  List<OwnerCertificate> certificates(List<Change> changes) {
    Set<String> owners = new LinkedHashSet<>();
    for (Change change : changes) {
      owners.add(change.getSigner().isEmpty() ? change.getOwner() : change.getSigner());
      for (Change handover : change.getHandoversList()) {
        owners.add(handover.getOwner());
      }
    }
    owners.removeIf(owner -> owner.equals(signer.nodeName()) || owner.equals(peer) || sent.contains(owner));
    List<OwnerCertificate> certificates = new ArrayList<>();
    for (String owner : owners) {
      SignerKeys.Key key = keys.of(owner);
      if (key != null) {
        sent.add(owner);
        certificates.add(OwnerCertificate.newBuilder().setOwner(owner).addAllChain(key.chain()).build());
      }
    }
    return certificates;
  }
}
