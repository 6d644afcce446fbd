package dev.entanglement.hibernate;

import dev.entanglement.hibernate.internal.NodeRuntime;
import io.grpc.BindableService;
import io.grpc.Channel;
import jakarta.persistence.EntityManagerFactory;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.hibernate.SessionFactory;

/**
 * The running Entanglement node of one SessionFactory, for what properties cannot do: dialing a
 * peer at runtime, binding the replication service into the application's own gRPC server,
 * waiting until a peer has caught up, and reading peer status.
 *
 * <pre>{@code
 * Entanglement node = Entanglement.of(entityManagerFactory);
 * node.connect("inprocess:site-b");
 * node.caughtUp("site-b").get(5, TimeUnit.SECONDS);
 * }</pre>
 *
 * <p>Thread-safe. Valid while the SessionFactory is open.
 */
public final class Entanglement {
  private final NodeRuntime runtime;

  private Entanglement(NodeRuntime runtime) {
    this.runtime = runtime;
  }

  /**
   * The node of a SessionFactory or EntityManagerFactory.
   *
   * @throws IllegalStateException if Entanglement does not run for it (no
   *     {@code entanglement.node.name}, or the factory is closed)
   */
  public static Entanglement of(EntityManagerFactory factory) {
    SessionFactory sessionFactory = factory.unwrap(SessionFactory.class);
    return new Entanglement(NodeRuntime.of(sessionFactory).orElseThrow(() -> new IllegalStateException(
        "Entanglement does not run for this persistence unit: set "
            + EntanglementSettings.NODE_NAME + " in its properties (and keep the factory open)")));
  }

  /** This node's name ({@link EntanglementSettings#NODE_NAME}). */
  public String nodeName() {
    return runtime.nodeName();
  }

  /**
   * The address the node listens on, with the actual port when {@link EntanglementSettings#LISTEN}
   * asked for port 0; empty when it does not listen.
   */
  public Optional<String> listenAddress() {
    return runtime.listenAddress();
  }

  /**
   * The replication service, for an application that runs its own gRPC server: add it there
   * instead of setting {@link EntanglementSettings#LISTEN}.
   */
  public BindableService replicationService() {
    return runtime.replicationService();
  }

  /**
   * Dials a peer ({@code host:port} or {@code inprocess:NAME}) and keeps the stream open,
   * dialing again with backoff when it ends, until the SessionFactory closes.
   *
   * @throws IllegalArgumentException for a malformed address
   */
  public void connect(String address) {
    runtime.connect(address);
  }

  /**
   * Dials a peer over a channel the application built (its own TLS, interceptors, name
   * resolution). The application keeps ownership of the channel and shuts it down.
   */
  public void connect(String description, Channel channel) {
    runtime.connect(description, channel);
  }

  /**
   * Completes when everything this node had to send the peer so far (its own committed changes
   * and ephemeral objects, the changes it relays, the peer's catch-up) has been answered by the
   * peer (applied, already current, or rejected): nothing is waiting or in flight on this link.
   * It covers one link: to know a change reached a node two hops away, wait on each hop in turn.
   * Fails if the peer is not connected or the connection ends first.
   */
  public CompletableFuture<Void> caughtUp(String peerName) {
    return runtime.caughtUp(peerName);
  }

  /** The names of the peers with an open, handshaken stream. */
  public Set<String> connectedPeers() {
    return runtime.connectedPeers();
  }

  /** A snapshot of every peer connection, including those still handshaking. */
  public List<PeerStatus> peers() {
    return runtime.peers();
  }

  /**
   * Asks a connected peer to send all the objects it owns again. With {@code clear}, this node
   * also removes the objects of that peer it holds but the peer no longer has. Completes when
   * the resynchronization has been applied here; fails if the peer is not connected or the
   * connection ends first.
   */
  public CompletableFuture<Void> resync(String peerName, boolean clear) {
    return runtime.resync(peerName, clear);
  }

  /**
   * Received changes this node could not apply (for example a row whose parent has not arrived,
   * or a constraint violation), kept and retried (table {@code entanglement_parked}).
   */
  public int parkedChanges() {
    return runtime.parkedChanges();
  }

  /**
   * Runs the periodic housekeeping now: removes tombstones every known peer has acknowledged,
   * and retries parked changes. It also runs every
   * {@link EntanglementSettings#COMPACTION_INTERVAL_MS}.
   */
  public void runHousekeeping() {
    runtime.runHousekeeping();
  }

  /**
   * Changes an object wherever its owner is, and returns the owner's result. In a transaction of
   * its own, loads the object, applies {@code change} and commits. For an object this node owns,
   * that is an ordinary commit and the future is already complete. For another node's object,
   * nothing is written here: the changed attributes travel as an update request to the owner
   * (through intermediate nodes if needed), which decides; the future completes with this
   * node's copy once it holds the owner's resulting state, or fails with an
   * {@link UpdateRequestException} saying why (refused, not found, conflict, owner unreachable,
   * connection lost).
   *
   * <p>Committing a change of another node's object in an application's own transaction does
   * the same (the local write is vetoed and a request forwarded), without a future to wait on.
   */
  public <T> CompletableFuture<T> update(Class<T> type, Object id, java.util.function.Consumer<? super T> change) {
    return inScope(session -> {
      T entity = session.find(type, id);
      if (entity == null) {
        throw new UpdateRequestException.NotFound(null,
            "node '%s' has no %s with id %s".formatted(nodeName(), type.getSimpleName(), id));
      }
      change.accept(entity);
      return entity;
    });
  }

  /** Deletes an object wherever its owner is; see {@link #update}. */
  public <T> CompletableFuture<Void> delete(Class<T> type, Object id) {
    return this.<T>inScope(session -> {
      T entity = session.find(type, id);
      if (entity == null) {
        throw new UpdateRequestException.NotFound(null,
            "node '%s' has no %s with id %s".formatted(nodeName(), type.getSimpleName(), id));
      }
      session.remove(entity);
      return null;
    }).thenApply(ignored -> null);
  }

  /**
   * Creates an object owned by {@code owner}: this node persists it if it is the owner, and
   * otherwise asks the owner to create it (nothing is written here until the owner's result
   * arrives). A UUID id that is not set is generated here, so the caller knows it.
   */
  @SuppressWarnings("unchecked")
  public <T> CompletableFuture<T> create(T entity, String owner) {
    if (owner.equals(nodeName())) {
      return inScope(session -> {
        session.persist(entity);
        return entity;
      });
    }
    try {
      var persister = runtime.factory().getMappingMetamodel().getEntityDescriptor(entity.getClass());
      var type = runtime.model().byEntityName(persister.getEntityName());
      if (type == null) {
        throw new IllegalArgumentException(entity.getClass().getName() + " is not an @Entangled entity");
      }
      Object id = persister.getIdentifier(entity, (org.hibernate.engine.spi.SharedSessionContractImplementor) null);
      if (id == null && type.idCodec().javaType() == java.util.UUID.class) {
        id = java.util.UUID.randomUUID();
        persister.setIdentifier(entity, id, null);
      }
      if (id == null) {
        throw new IllegalArgumentException("set the id of the " + type.name() + " to create at '" + owner + "'");
      }
      var request = new dev.entanglement.hibernate.internal.ownership.ForwardRequest(type, id,
          type.key(type.idText(id)), owner, dev.entanglement.proto.v1.RequestKind.CREATE,
          type.changedAttributes(null, persister.getValues(entity)), null);
      return (CompletableFuture<T>) runtime.submit(request);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

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
  @SuppressWarnings("unchecked")
  public <T> CompletableFuture<T> transfer(Class<T> type, Object id, String newOwner) {
    try {
      String entityName = runtime.factory().getMappingMetamodel().getEntityDescriptor(type).getEntityName();
      return (CompletableFuture<T>) runtime.transfer(entityName, id, newOwner);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Starts a transition on an object this node holds (any node may, owner or not): provisional
   * state that every node receives at once and can show through a {@link TransitionListener},
   * and that no node writes to its database. Starting it breaks a transition of the same object
   * that was in progress. See {@link Transition} for how it ends.
   *
   * @throws IllegalArgumentException if the class is not an {@code @Entangled} entity or this
   *     node has no such object
   */
  public <T> Transition<T> startTransition(Class<T> type, Object id) {
    String entityName = runtime.factory().getMappingMetamodel().getEntityDescriptor(type).getEntityName();
    var entangled = runtime.model().byEntityName(entityName);
    if (entangled == null) {
      throw new IllegalArgumentException(type.getName() + " is not an @Entangled entity");
    }
    return runtime.transitions().start(type, entangled, id);
  }

  /** Registers a listener for the transitions this node sees (its own and other nodes'). */
  public void addTransitionListener(TransitionListener listener) {
    runtime.transitions().addListener(listener);
  }

  public void removeTransitionListener(TransitionListener listener) {
    runtime.transitions().removeListener(listener);
  }

  /**
   * Adds a policy of this node at run time (after those of {@link EntanglementSettings#POLICY})
   * and applies the new decisions to every connected peer, as {@link #policyChanged()} does.
   */
  public void addPolicy(dev.entanglement.hibernate.policy.Policy policy) {
    runtime.addPolicy(policy);
  }

  /**
   * Tells the plugin that policy decisions may have changed (they depend on application state):
   * every connected peer is synchronized again under the new decisions, so objects a peer may no
   * longer see are withdrawn there (removed from its database) and objects it may now see
   * arrive. The work happens in the background; {@link #caughtUp(String)} completes after it.
   */
  public void policyChanged() {
    runtime.policyChanged();
  }

  /** How many sends and receives the policies denied, by {@code peer|send or receive|reason}. */
  public java.util.Map<String, Long> policyDenials() {
    return runtime.policyDenials();
  }

  /**
   * Removes an owner for good (a node that left): deletes its objects here, refuses its changes
   * from now on, and floods the removal so that its objects disappear at every node. Completes
   * with the number of objects deleted here. The refusal lasts until this node restarts.
   */
  public CompletableFuture<Integer> removeOwner(String owner) {
    return runtime.removeOwner(owner);
  }

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
  public <T> EphemeralObjects<T> ephemeral(Class<T> type) {
    return runtime.ephemeral(type, null);
  }

  /**
   * As {@link #ephemeral(Class)}, and every node drops an object that was not put again within
   * {@code timeToLive} (its owner too: an owner keeps an object alive by putting it again). The
   * owner's time to live travels with each state and governs at the other nodes.
   */
  public <T> EphemeralObjects<T> ephemeral(Class<T> type, java.time.Duration timeToLive) {
    return runtime.ephemeral(type, timeToLive);
  }

  /**
   * The admin service ({@code entanglement.v1.Admin}) behind its access control, for an
   * application that binds it into its own gRPC server instead of setting
   * {@link EntanglementSettings#ADMIN_LISTEN}. Calls need the configured token or admin
   * certificate (the latter when the application's server does mutual TLS).
   *
   * @throws EntanglementConfigurationException if neither {@link EntanglementSettings#ADMIN_TOKEN}
   *     (or its file) nor {@link EntanglementSettings#ADMIN_TRUSTED_FINGERPRINTS} is set
   */
  public io.grpc.ServerServiceDefinition adminService() {
    return runtime.adminService();
  }

  /** The address the admin server listens on (with the port actually bound), if there is one. */
  public Optional<String> adminAddress() {
    return runtime.adminAddress();
  }

  /** The node that owns an object this node holds, if it holds it. */
  public Optional<String> ownerOf(Class<?> type, Object id) {
    return runtime.ownerOf(runtime.factory().getMappingMetamodel().getEntityDescriptor(type).getEntityName(), id);
  }

  @SuppressWarnings("unchecked")
  private <T> CompletableFuture<T> inScope(java.util.function.Function<org.hibernate.Session, T> work) {
    try (var scope = dev.entanglement.hibernate.internal.ownership.RequestScope.open();
        var session = runtime.factory().openSession()) {
      session.beginTransaction();
      T result;
      try {
        result = work.apply(session);
        session.getTransaction().commit();
      } catch (RuntimeException e) {
        if (session.getTransaction().isActive()) {
          session.getTransaction().rollback();
        }
        throw e;
      }
      if (scope.futures().isEmpty()) {
        return CompletableFuture.completedFuture(result);
      }
      return (CompletableFuture<T>) (CompletableFuture<?>) scope.futures().get(0);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }
}
