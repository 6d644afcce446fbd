package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.store.ConnectionBudget;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.model.PropertyCodec;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.transition.Transitions;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.TransitionUpdate;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The transitions' view of the node: owners, held rows, flooding to the peers the policies
 * allow, decoding provisional values against the stored object, and committing through the
 * owner.
 *
 * <h2>Concurrency</h2>
 * Stateless; database work happens in a session of its own per call.
 */
final class TransitionHost implements Transitions.Host {
  private final NodeRuntime node;

  TransitionHost(NodeRuntime node) {
    this.node = node;
  }

  @Override
  public String nodeName() {
    return node.config.nodeName();
  }

  @Override
  public String ownerOf(EntangledType type, String key) {
    String remote = node.ownership.remoteOwner(key);
    return remote != null ? remote : node.config.nodeName();
  }

  @Override
  public Bookkeeping.ObjectRow heldRow(EntangledType type, String idText) {
    return node.reads.row(type.name(), idText);
  }

  @Override
  public void flood(String exceptPeer, Envelope envelope) {
    TransitionUpdate update = envelope.getTransition();
    if (node.signer != null && update.getSignature().isEmpty() && (update.getOrigin().equals(node.config.nodeName())
        || node.peerHost.hostsBrowser(update.getOrigin()))) {
      // signed state: this node's own transitions, and its browsers', leave signed (once for every peer)
      update = node.signer.sign(update);
      envelope = Envelope.newBuilder().setTransition(update).build();
    }
    for (PeerConnection connection : node.peers.others(exceptPeer)) {
      String peer = connection.peerName();
      if (node.policy.sendDenied(peer, update) != null) {
        continue;
      }
      // a browser learns who drags only if it may hear of the origin: the policies would send it
      // the origin's objects (a red tab sees a blue node's drag of a shared card, not that blue drags it)
      boolean hidden = !connection.mayName(update.getOrigin()) && !node.policy.originShown(peer, update);
      if (hidden && !connection.browser()) {
        continue; // a node relays transitions on, and a stand-in origin would not end the one it started (issue 17)
      } else if (hidden) {
        connection.sendUrgent(Envelope.newBuilder()
            .setTransition(update.toBuilder().setOrigin(connection.pseudonym(update.getOrigin()))).build());
      } else {
        connection.sendUrgent(envelope);
      }
    }
  }

  @Override
  public Object load(EntangledType type, Object id) {
    return OwnershipHosts.load(node, type, id);
  }

  @Override
  public Map<String, Object> decode(EntangledType type, Object id, List<Attribute> attributes)
      throws DecodeException {
    try (var permit = ConnectionBudget.of(node.factory).enter(); var session = node.factory.openStatelessSession()) {
      Object current = session.get(type.persister().getEntityName(), id);
      Object[] state = current == null ? new Object[type.persister().getPropertyNames().length]
          : type.persister().getValues(current);
      type.decode(attributes, state, PropertyCodec.ReferenceLoader.of(
          (org.hibernate.engine.spi.SharedSessionContractImplementor) session,
          (referenced, referencedId) -> session.get(referenced.persister().getEntityName(), referencedId)));
      Map<String, Object> values = new LinkedHashMap<>();
      String[] names = type.persister().getPropertyNames();
      for (Attribute attribute : attributes) {
        for (int i = 0; i < names.length; i++) {
          if (names[i].equals(attribute.getName())) {
            values.put(names[i], state[i]);
          }
        }
      }
      return values;
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public CompletableFuture<Object> commit(EntangledType type, Object id, Consumer<Object> change) {
    return node.api.update((Class<Object>) type.persister().getMappedClass(), id, change);
  }
}
