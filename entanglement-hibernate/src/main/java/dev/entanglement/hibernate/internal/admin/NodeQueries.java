package dev.entanglement.hibernate.internal.admin;

import dev.entanglement.hibernate.PendingRequest;
import dev.entanglement.hibernate.internal.store.NodeLease;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The one view of a node that operators' tools (the admin service) read and act through; they
 * never reach into the runtime's fields. Implementations are thread-safe; methods that read the
 * database say so.
 */
public interface NodeQueries {
  String nodeName();

  EntangledModel model();

  /** The highest serial this node has given out. */
  long lastSerial();

  /** Every connection, handshaking ones included. */
  List<PeerConnection> allConnections();

  /** The peers this node dials that have no stream open now (waiting to dial again), with why. */
  List<dev.entanglement.hibernate.internal.transport.Dialer.Waiting> waitingDialers();

  Optional<PeerConnection> connection(String peer);

  Set<String> connectedPeers();

  /** The addresses this node dials. */
  List<String> dialTargets();

  /** How far a peer acknowledged an owner's objects in this run (0 if never). */
  long acknowledgedBy(String peer, String owner);

  /**
   * Whether the send policies let the peer hold the object (admin answers about a peer name only
   * objects it may hold: issue 17).
   */
  boolean mayHold(String peer, EntangledType type, Object id, String owner, boolean deleted);

  /** How many of an owner's rows have a serial above {@code after} (reads the database). */
  long countChangedSince(String owner, long after);

  /** An object's bookkeeping row, or null (reads the database). */
  Bookkeeping.ObjectRow objectRow(String entity, String id);

  /** One object of a listing: its bookkeeping and a short text of its attributes (empty for a tombstone). */
  record ListedObject(Bookkeeping.ObjectRow row, String summary) {}

  /**
   * A page of the objects held here in (entity, id) order after {@code afterKey} ({@code
   * entity#id}; null from the start), of one entity and one owner when given (reads the database).
   */
  List<ListedObject> listObjects(String entity, String owner, String afterKey, int limit);

  /** Per owner held here: [live objects, tombstones] (reads the database). */
  Map<String, long[]> ownerCounts();

  /** The owner directory: each owner with a route and its path (the next hop first). */
  Map<String, List<String>> routes();

  /** How far this node holds each other owner's objects. */
  Map<String, Long> heldPositionsByOwner();

  /** Update requests waiting for the owner's answer, for one object. */
  int pendingRequests(String key);

  /** This instance's hold on the node: member id, host, since, fencing token. */
  NodeLease lease();

  /** The node's members, the holder of the links first (reads the database). */
  List<NodeLease.Member> members();

  /** This node's update requests not settled yet, oldest first. */
  List<PendingRequest> pendingRequests();

  /** A transition in progress on the object, described, or null. */
  String transitionOf(String key);

  /** Policy denials involving one peer. */
  long policyDenials(String peer);

  // ---- actions -------------------------------------------------------------------------------

  /** Dials a peer. */
  void connect(String address);

  /** Stops dialing a peer and ends its stream; false if there is no such peer. */
  boolean removePeer(String nameOrAddress);

  /** Pauses the flow with a peer (blocks until it holds); false if not connected. */
  boolean pausePeer(String peer);

  /** Resumes a paused peer (blocks until it flows); false if not connected. */
  boolean resumePeer(String peer);

  /**
   * Sends a peer everything again, one owner's objects, or one entity type's; says what it did.
   * With {@code verify} (whole owners only), the peer compares what it holds and repairs.
   */
  String resync(String peer, String owner, String entity, boolean verify);

  /**
   * Starts (or resumes) the adoption of these entity types' existing rows, all when empty
   * (docs/adoption.md); the future of the run (the one under way, if any).
   */
  java.util.concurrent.CompletableFuture<List<dev.entanglement.hibernate.AdoptionStatus>> adopt(List<String> entities);

  /** Where the adoptions stand (reads the database). */
  List<dev.entanglement.hibernate.AdoptionStatus> adoptions();
}
