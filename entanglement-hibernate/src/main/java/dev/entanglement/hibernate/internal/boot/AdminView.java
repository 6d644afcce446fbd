package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.PendingRequest;
import dev.entanglement.hibernate.internal.store.NodeLease;
import dev.entanglement.hibernate.internal.admin.NodeQueries;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The node as operators see it ({@link NodeQueries}), read from the rooms that own each figure.
 *
 * <h2>Concurrency</h2>
 * Stateless; called on gRPC threads of the admin server.
 */
final class AdminView implements NodeQueries {
  private final NodeRuntime node;

  AdminView(NodeRuntime node) {
    this.node = node;
  }

  @Override
  public String nodeName() {
    return node.config.nodeName();
  }

  @Override
  public EntangledModel model() {
    return node.model;
  }

  @Override
  public long lastSerial() {
    return node.clock.last();
  }

  @Override
  public List<PeerConnection> allConnections() {
    return node.peers.all();
  }

  @Override
  public List<dev.entanglement.hibernate.internal.transport.Dialer.Waiting> waitingDialers() {
    return node.peers.waitingDialers();
  }

  @Override
  public Optional<PeerConnection> connection(String peer) {
    return node.peers.connection(peer);
  }

  @Override
  public Set<String> connectedPeers() {
    return node.peers.connectedNames();
  }

  @Override
  public List<String> dialTargets() {
    return node.peers.dialTargets();
  }

  @Override
  public long acknowledgedBy(String peer, String owner) {
    return node.ledger.acknowledgedBy(peer, owner);
  }

  @Override
  public boolean mayHold(String peer, EntangledType type, Object id, String owner, boolean deleted) {
    return node.policy.mayHold(peer, type, id, owner, deleted);
  }

  @Override
  public long countChangedSince(String owner, long after) {
    return node.reads.countChangedSince(owner, after);
  }

  @Override
  public Bookkeeping.ObjectRow objectRow(String entity, String id) {
    return node.reads.row(entity, id);
  }

  @Override
  public List<ListedObject> listObjects(String entity, String owner, String afterKey, int limit) {
    String afterEntity = null;
    String afterId = null;
    if (afterKey != null) {
      int hash = afterKey.indexOf('#');
      afterEntity = hash < 0 ? afterKey : afterKey.substring(0, hash);
      afterId = hash < 0 ? "" : afterKey.substring(hash + 1);
    }
    List<ListedObject> listed = new java.util.ArrayList<>();
    for (var row : node.reads.page(entity, owner, afterEntity, afterId, limit)) {
      listed.add(new ListedObject(row, row.deleted() ? "" : summary(row)));
    }
    return listed;
  }

  /** The object's basic attributes as {@code name=value, ...}, at most 100 characters (operators find objects by them). */
  private String summary(dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow row) {
    var type = node.model.byName(row.entity());
    if (type == null) {
      return "";
    }
    try (var permit = dev.entanglement.hibernate.internal.store.ConnectionBudget.of(node.factory).enter();
        var session = node.factory.openStatelessSession()) {
      Object entity = session.get(type.persister().getEntityName(), type.idCodec().parseText(row.id()));
      if (entity == null) {
        return "";
      }
      String[] names = type.persister().getPropertyNames();
      Object[] values = type.persister().getValues(entity);
      StringBuilder text = new StringBuilder();
      for (int i = 0; i < names.length && text.length() < 100; i++) {
        Object value = values[i];
        if (value instanceof CharSequence || value instanceof Number || value instanceof Boolean || value instanceof Enum<?>
            || value instanceof java.time.temporal.Temporal || value instanceof java.util.UUID) {
          text.append(text.length() == 0 ? "" : ", ").append(names[i]).append('=').append(value);
        }
      }
      return text.length() > 100 ? text.substring(0, 99) + "…" : text.toString();
    } catch (RuntimeException e) {
      return "(unreadable: " + e.getMessage() + ")";
    }
  }

  @Override
  public Map<String, long[]> ownerCounts() {
    return node.reads.ownerCounts();
  }

  @Override
  public Map<String, List<String>> routes() {
    return node.directory.routes();
  }

  @Override
  public Map<String, Long> heldPositionsByOwner() {
    return node.applier.positions();
  }

  @Override
  public int pendingRequests(String key) {
    return node.forwarder.pendingFor(key);
  }

  @Override
  public NodeLease lease() {
    return node.lease;
  }

  @Override
  public List<NodeLease.Member> members() {
    return node.lease.members();
  }

  @Override
  public List<PendingRequest> pendingRequests() {
    return node.forwarder.pendingRequests();
  }

  @Override
  public String transitionOf(String key) {
    return node.transitions.describe(key);
  }

  @Override
  public long policyDenials(String peer) {
    return node.policy.engine().denials(peer);
  }

  @Override
  public void connect(String address) {
    node.peerHost.connect(address);
  }

  @Override
  public boolean removePeer(String nameOrAddress) {
    return node.peers.remove(nameOrAddress);
  }

  @Override
  public boolean pausePeer(String peer) {
    return node.peers.pause(peer);
  }

  @Override
  public boolean resumePeer(String peer) {
    return node.peers.resume(peer);
  }

  @Override
  public String resync(String peer, String owner, String entity, boolean verify) {
    PeerConnection connection = node.peers.get(peer);
    if (connection == null) {
      throw new IllegalArgumentException("node '%s' has no open stream with a peer named '%s'".formatted(
          nodeName(), peer));
    }
    if (entity == null) {
      connection.pushFullSync(owner, verify);
      String how = verify ? "with a sweep and a content check (the peer repairs rows that differ and logs how many)"
          : "with a sweep";
      return owner == null ? "sending peer '%s' everything again, %s".formatted(peer, how)
          : "sending peer '%s' the objects of owner '%s' again, %s".formatted(peer, owner, how);
    }
    if (verify) {
      throw new IllegalArgumentException("a content check (verify) covers whole owners, as it ends with a sweep; "
          + "leave out the entity '%s'".formatted(entity));
    }
    if (node.model.byName(entity) == null) {
      throw new IllegalArgumentException("node '%s' has no @Entangled entity named '%s'".formatted(nodeName(), entity));
    }
    int offered = 0;
    for (Outgoing change : node.catchUpReader.readEntity(entity, owner)) {
      if (!peer.equals(change.change().getOwner())) { // the peer's own objects are not sent back to it
        connection.offer(change);
        offered++;
      }
    }
    return "sending peer '%s' %d %s of %s%s again".formatted(peer, offered, offered == 1 ? "object" : "objects", entity,
        owner == null ? "" : " owned by '" + owner + "'");
  }

  @Override
  public java.util.concurrent.CompletableFuture<List<dev.entanglement.hibernate.AdoptionStatus>> adopt(
      List<String> entities) {
    return node.adoption.adopt(node.api.adoptedTypes(entities));
  }

  @Override
  public List<dev.entanglement.hibernate.AdoptionStatus> adoptions() {
    return node.adoption.status();
  }
}
