package dev.entanglement.hibernate;

import dev.entanglement.hibernate.policy.Policy;
import io.grpc.Channel;
import io.grpc.ServerServiceDefinition;
import jakarta.persistence.EntityManagerFactory;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.hibernate.SessionFactory;

/**
 * The running Entanglement node of one SessionFactory, for what properties cannot do: dialing a
 * peer at runtime, binding the services into the application's own gRPC server, changing other
 * nodes' objects with a result to wait on, waiting until a peer has caught up, and reading peer
 * status.
 *
 * <pre>{@code
 * Entanglement node = Entanglement.of(entityManagerFactory);
 * node.connect("inprocess:site-b");
 * node.caughtUp("site-b").get(5, TimeUnit.SECONDS);
 * }</pre>
 *
 * <h2>Blocking and outcomes</h2>
 * Methods returning a {@link CompletableFuture} never wait on the network; the others return
 * at once unless their javadoc says they block (on the database, or for a pause to take hold).
 * A future that fails with {@link UpdateRequestException.OwnerUnreachable} or
 * {@link UpdateRequestException.ConnectionLost} means the outcome is <em>unknown</em>: the owner
 * may have applied the request and its result will then arrive as an ordinary change. Every
 * other failure is final: the owner did not apply it. Futures fail only with
 * {@link EntanglementException} and its subclasses, never with a raw Hibernate or JPA exception;
 * {@link UpdateRequestException.DatabaseUnavailable} says this node's own database failed
 * transiently (pool exhausted, connection lost) before anything was written or sent, so the call
 * can be made again as it is (it is not retried for the caller: {@code change} is its code).
 *
 * <p>Thread-safe. Valid while the SessionFactory is open.
 */
public interface Entanglement {

  /**
   * The node of a SessionFactory or EntityManagerFactory.
   *
   * @throws IllegalStateException if Entanglement does not run for it (no
   *     {@code entanglement.node.name}, or the factory is closed)
   */
  static Entanglement of(EntityManagerFactory factory) {
    // the implementor, not SessionFactory: a container's proxy of the factory (Spring's) is itself
    // a SessionFactory and answers unwrap(SessionFactory) with the proxy, not with the factory
    SessionFactory sessionFactory = factory.unwrap(org.hibernate.engine.spi.SessionFactoryImplementor.class);
    for (EntanglementProvider provider : ServiceLoader.load(EntanglementProvider.class,
        Entanglement.class.getClassLoader())) {
      Optional<Entanglement> node = provider.nodeOf(sessionFactory);
      if (node.isPresent()) {
        return node.get();
      }
    }
    throw new IllegalStateException("Entanglement does not run for this persistence unit: set "
        + EntanglementSettings.NODE_NAME + " in its properties (and keep the factory open)");
  }

  /**
   * Opens the node's servers and dials its configured peers, when
   * {@link EntanglementSettings#SERVE_AT_BOOT} is {@code false} (they are open from boot
   * otherwise). Blocks until the servers listen; does nothing if they already do. On a member that
   * does not hold the node's links, the member that takes them over serves at once.
   *
   * @throws EntanglementConfigurationException if a server cannot listen on its address
   */
  void serve();

  /**
   * Closes the servers {@link #serve()} opened and ends the streams with every peer (dialed or
   * dialed in) until {@link #serve()} is called again, which dials the peers of
   * {@link EntanglementSettings#PEERS} (not those added with {@link #connect(String)}); changes
   * for the peers are kept as usual. Capture and the API keep working. Returns once the ports are
   * closed.
   */
  void stopServing();

  /** This node's name ({@link EntanglementSettings#NODE_NAME}). */
  String nodeName();

  /**
   * The address the node listens on, with the actual port when {@link EntanglementSettings#LISTEN}
   * asked for port 0; empty when it does not listen.
   */
  Optional<String> listenAddress();

  /**
   * Where browsers connect ({@link EntanglementSettings#WEB_LISTEN}), {@code host:port} with the
   * actual port when port 0 was asked for; empty without a browser endpoint (or on a member that
   * does not hold the node's links).
   */
  default Optional<String> webAddress() {
    return Optional.empty();
  }

  /**
   * The replication service, for an application that runs its own gRPC server: add it there
   * instead of setting {@link EntanglementSettings#LISTEN}.
   */
  ServerServiceDefinition replicationService();

  /**
   * Dials a peer ({@code host:port} or {@code inprocess:NAME}) and keeps the stream open,
   * dialing again with backoff when it ends, until the SessionFactory closes. Returns at once.
   *
   * @throws IllegalArgumentException for a malformed address
   */
  void connect(String address);

  /**
   * Dials a peer over a channel the application built (its own TLS, interceptors, name
   * resolution). The application keeps ownership of the channel and shuts it down.
   */
  void connect(String description, Channel channel);

  /**
   * Completes when everything this node had to send the peer so far (its own committed changes
   * and ephemeral objects, the changes it relays, the peer's catch-up) has been answered by the
   * peer (applied, already current, parked or refused): nothing is waiting, in flight or held
   * back on this link (a change whose send policy threw is held until it could be sent). The
   * report says what of it the peer holds parked, with the reasons
   * ({@link CatchUpReport#nothingParked()} when the peer holds everything). It covers one link:
   * to know a change reached a node two hops away, wait on each hop in turn. Fails if the peer
   * is not connected or the connection ends first.
   */
  CompletableFuture<CatchUpReport> caughtUp(String peerName);

  /** The names of the peers with an open, handshaken stream. */
  Set<String> connectedPeers();

  /** A snapshot of every peer connection, including those still handshaking. */
  List<PeerStatus> peers();

  /**
   * Asks a connected peer to send all the objects it owns again. With {@code clear}, this node
   * also removes the objects of that peer it holds but the peer no longer has. Completes when
   * the resynchronization has been applied here; fails if the peer is not connected or the
   * connection ends first. The same as {@link #resync(String, ResyncMode)} with
   * {@link ResyncMode#CLEAR} or {@link ResyncMode#RESEND}.
   */
  default CompletableFuture<Void> resync(String peerName, boolean clear) {
    return resync(peerName, clear ? ResyncMode.CLEAR : ResyncMode.RESEND).thenApply(report -> null);
  }

  /**
   * Asks a connected peer to send all the objects it owns again, treated here as the mode says
   * ({@link ResyncMode#VERIFY} repairs rows deleted or altered behind the plugin's back).
   * Completes with what it did here once the resynchronization has been applied; fails if the
   * peer is not connected or the connection ends first.
   */
  CompletableFuture<ResyncReport> resync(String peerName, ResyncMode mode);

  /**
   * Adopts the existing rows of these entity types (all {@code @Entangled} types when none are
   * given): rows the plugin's bookkeeping does not know (present before the plugin, or inserted
   * behind its back) and this node's rows changed behind its back (bulk HQL or SQL) are announced
   * as this node's own objects, in chunks of {@link EntanglementSettings#ADOPT_CHUNK_SIZE}, in the
   * background; other nodes' objects and rows announced unchanged are skipped. An adoption a stop
   * interrupted resumes after its last committed chunk. One adoption runs at a time: a call during
   * one returns its future. Completes once every type is done, with each type's status (a failed
   * type's says why). See docs/adoption.md.
   */
  default CompletableFuture<List<AdoptionStatus>> adopt(Class<?>... types) {
    return CompletableFuture.failedFuture(new UnsupportedOperationException("adopt() is not supported here"));
  }

  /** Where the adoptions of existing rows stand, per entity type ever adopted (docs/adoption.md). */
  default List<AdoptionStatus> adoption() {
    return List.of();
  }

  /**
   * Received changes this node could not apply (for example a row whose parent has not arrived,
   * or a constraint violation), kept and retried (table {@code entanglement_parked}). Reads the
   * database.
   */
  int parkedChanges();

  /**
   * Runs the periodic housekeeping now, blocking on the database: removes tombstones every
   * known peer has acknowledged, and retries parked changes. It also runs every
   * {@link EntanglementSettings#COMPACTION_INTERVAL_MS}.
   */
  void runHousekeeping();

  /**
   * Changes an object wherever its owner is, and returns the owner's result. In a transaction of
   * its own (this call blocks on the database for it), loads the object, applies {@code change}
   * and commits. For an object this node owns, that is an ordinary commit and the future is
   * already complete. For another node's object, nothing is written here: the changed attributes
   * travel as an update request to the owner (through intermediate nodes if needed), which
   * decides; the future completes with this node's copy once it holds the owner's resulting
   * state, or fails with an {@link UpdateRequestException} saying why (see the class comment for
   * which failures leave the outcome unknown).
   *
   * <p>If {@code change} also changes other nodes' objects (through references), each becomes a
   * request of its own and the future completes once all of them have succeeded, or fails with
   * the first failure (the others' failures attached as suppressed exceptions); requests that
   * succeeded stay applied at their owners.
   *
   * <p>Committing a change of another node's object in an application's own transaction does
   * the same (the local write is vetoed and a request forwarded), without a future to wait on.
   */
  <T> CompletableFuture<T> update(Class<T> type, Object id, Consumer<? super T> change);

  /** Deletes an object wherever its owner is; see {@link #update}. */
  <T> CompletableFuture<Void> delete(Class<T> type, Object id);

  /**
   * Creates an object owned by {@code owner}: this node persists it if it is the owner, and
   * otherwise asks the owner to create it (nothing is written here until the owner's result
   * arrives). A UUID id that is not set is generated here, so the caller knows it.
   */
  <T> CompletableFuture<T> create(T entity, String owner);

  /**
   * Hands an object this node owns over to another node, which decides its state from then on.
   * The hand-over is a change of this node's (it travels through relays and outages like any
   * change); from its commit on, changes made here to the object become update requests to the
   * new owner, and an application transaction that changed the object and had not committed yet
   * is rolled back with an {@link EntanglementException}. The new owner takes the object over
   * when it receives the hand-over, with the object's ownership epoch raised by one, so every
   * node ends with the same owner whatever the order in which states arrive.
   *
   * <p>The future completes with this node's copy once it holds the new owner's first state. It
   * fails with {@link UpdateRequestException.NotFound} if this node has no such object,
   * {@link UpdateRequestException.Refused} if another node owns it, or
   * {@link UpdateRequestException.OwnerUnreachable} if the new owner has not taken it over within
   * {@code entanglement.request.timeout_ms}; the hand-over still stands then and completes when
   * the new owner receives it.
   */
  <T> CompletableFuture<T> transfer(Class<T> type, Object id, String newOwner);

  /**
   * Starts a transition on an object this node holds (any node may, owner or not): provisional
   * state that every node receives at once and can show through a {@link TransitionListener},
   * and that no node writes to its database. Starting it breaks a transition of the same object
   * that was in progress. See {@link Transition} for how it ends. Reads the database.
   *
   * @throws IllegalArgumentException if the class is not an {@code @Entangled} entity or this
   *     node has no such object
   */
  <T> Transition<T> startTransition(Class<T> type, Object id);

  /** Registers a listener for the transitions this node sees (its own and other nodes'). */
  void addTransitionListener(TransitionListener listener);

  void removeTransitionListener(TransitionListener listener);

  /**
   * Calls {@code listener} after each change from a peer to an object of {@code type} (or of a
   * subclass) commits at this node: inserted, updated, removed or withdrawn. See
   * {@link ChangeListener} for the thread and the ordering.
   */
  default <T> void addChangeListener(Class<T> type, ChangeListener<T> listener) {
    throw new UnsupportedOperationException("change listeners are not available in this node");
  }

  /** Stops calling {@code listener}; a no-op when it was not added. */
  default void removeChangeListener(ChangeListener<?> listener) {}

  /**
   * Adds a listener of the outcomes of this node's update requests, including those made by
   * ordinary JPA transactions (which have no future) and those reloaded after a restart. See
   * {@link RequestListener}.
   */
  void addRequestListener(RequestListener listener);

  void removeRequestListener(RequestListener listener);

  /**
   * This node's update requests not settled yet (waiting for a route, sent and waiting for the
   * answer, or queued behind an earlier request for the same object), oldest first. They are
   * kept in the database until settled or until {@code entanglement.request.lifetime} passes.
   */
  List<PendingRequest> pendingRequests();

  /**
   * Adds a policy of this node at run time (after those of {@link EntanglementSettings#POLICY})
   * and applies the new decisions to every connected peer, as {@link #policyChanged()} does.
   */
  void addPolicy(Policy policy);

  /**
   * Tells the plugin that policy decisions may have changed (they depend on application state):
   * every connected peer is synchronized again under the new decisions, so objects a peer may no
   * longer see are withdrawn there (removed from its database) and objects it may now see
   * arrive. The work happens in the background; {@link #caughtUp(String)} completes after it.
   */
  void policyChanged();

  /** How many sends and receives the policies denied, per peer, direction and stage. */
  List<PolicyDenial> policyDenials();

  /**
   * Removes an owner for good (a node that left): deletes its objects here, refuses its changes
   * from now on, and floods the removal so that its objects disappear at every node. Completes
   * with the number of objects deleted here. The removal is stored: it lasts across restarts, and
   * peers that were offline when it happened are told of it when they connect.
   */
  CompletableFuture<Integer> removeOwner(String owner);

  /**
   * The synchronized in-memory objects of a record type (see {@link EphemeralObjects}); kept at
   * the other nodes until their owner removes them or goes away. Every node that wants them
   * calls this with the same type (matched by the record's simple name); calling it again
   * returns the same objects.
   *
   * @throws IllegalArgumentException naming the problem: not a record, a component of a type
   *     entities cannot have either, a name another ephemeral type or an {@code @Entangled}
   *     entity has, or another time to live than at the first registration
   */
  <T> EphemeralObjects<T> ephemeral(Class<T> type);

  /**
   * As {@link #ephemeral(Class)}, and every node drops an object that was not put again within
   * {@code timeToLive} (its owner too: an owner keeps an object alive by putting it again). The
   * owner's time to live travels with each state and governs at the other nodes.
   */
  <T> EphemeralObjects<T> ephemeral(Class<T> type, Duration timeToLive);

  /**
   * The admin service ({@code entanglement.v1.Admin}) behind its access control, for an
   * application that binds it into its own gRPC server instead of setting
   * {@link EntanglementSettings#ADMIN_LISTEN}. Calls need the configured token or admin
   * certificate (the latter when the application's server does mutual TLS).
   *
   * @throws EntanglementConfigurationException if neither {@link EntanglementSettings#ADMIN_TOKEN}
   *     (or its file) nor {@link EntanglementSettings#ADMIN_TRUSTED_FINGERPRINTS} is set
   */
  ServerServiceDefinition adminService();

  /** The address the admin server listens on (with the port actually bound), if there is one. */
  Optional<String> adminAddress();

  /** The node that owns an object this node holds, if it holds it. Reads the database. */
  Optional<String> ownerOf(Class<?> type, Object id);

  /**
   * What this node holds about an object: owner, serial, ownership epoch, hand-over and this
   * node's update requests for it still pending, without SQL. Empty if this node holds no such
   * object (not even a tombstone). Reads the database.
   *
   * @throws IllegalArgumentException if the class is not an {@code @Entangled} entity
   */
  Optional<ObjectInfo> describe(Class<?> type, Object id);

  /**
   * Closes the stream with a peer and stops dialing it (if this node dialed it), until
   * {@link #connect(String)} is called again. A peer that dialed in may dial again: remove this
   * node from its peers to keep the two apart. Changes for the peer are kept as usual, and it
   * catches up when it comes back. Returns false if this node has no peer of that name (nor one
   * added with that address).
   */
  boolean disconnect(String peer);

  /**
   * Pauses the flow with a connected peer both ways: the stream stays open (heartbeats go on),
   * nothing is sent or applied, and changes for the peer coalesce per object meanwhile. The pause
   * lasts across reconnections of that peer until {@link #resume(String)}. Blocks until the
   * pause holds; returns false if no stream with that peer is open.
   */
  boolean pause(String peer);

  /** Resumes the flow with a paused peer; returns false if no stream with that peer is open. */
  boolean resume(String peer);
}
