package dev.entanglement.hibernate.internal.boot;

import org.hibernate.UnknownEntityTypeException;
import dev.entanglement.hibernate.AdoptionStatus;
import dev.entanglement.hibernate.CatchUpReport;
import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementException;
import dev.entanglement.hibernate.ObjectInfo;
import dev.entanglement.hibernate.EphemeralObjects;
import dev.entanglement.hibernate.PeerStatus;
import dev.entanglement.hibernate.PolicyDenial;
import dev.entanglement.hibernate.RefusalReason;
import dev.entanglement.hibernate.ResyncMode;
import dev.entanglement.hibernate.ResyncReport;
import dev.entanglement.hibernate.Transition;
import dev.entanglement.hibernate.TransitionListener;
import dev.entanglement.hibernate.ChangeListener;
import dev.entanglement.hibernate.UpdateRequestException;
import dev.entanglement.hibernate.internal.admin.AdminAccess;
import dev.entanglement.hibernate.internal.admin.AdminService;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.proto.v1.MemberCall;
import dev.entanglement.proto.v1.MemberTransfer;
import dev.entanglement.hibernate.internal.ownership.ForwardRequest;
import dev.entanglement.hibernate.internal.ownership.Forwarder;
import dev.entanglement.hibernate.internal.ownership.RequestScope;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import dev.entanglement.hibernate.PendingRequest;
import dev.entanglement.hibernate.RequestListener;
import org.hibernate.StatelessSession;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.SqlErrors;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.proto.v1.RequestKind;
import io.grpc.Channel;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import jakarta.persistence.OptimisticLockException;
import jakarta.persistence.PersistenceException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Map;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Function;
import org.hibernate.HibernateException;
import org.hibernate.Session;
import org.hibernate.StaleStateException;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.persister.entity.EntityPersister;

/**
 * The public {@link Entanglement} API of one running node: each call goes to the room that owns
 * it; writes of other nodes' objects run in a request scope that collects their futures.
 *
 * <h2>Concurrency</h2>
 * Stateless beyond the node it fronts; thread-safe.
 */
final class EntanglementNode implements Entanglement {
  private final NodeRuntime node;

  EntanglementNode(NodeRuntime node) {
    this.node = node;
  }

  @Override
  public void serve() {
    node.serve();
  }

  @Override
  public void stopServing() {
    node.stopServing();
  }

  @Override
  public String nodeName() {
    return node.config.nodeName();
  }

  /**
   * Why a call that needs the node's links cannot run on this member: it follows, another member
   * holds them.
   */
  private EntanglementException following(String call) {
    return new EntanglementException(("%s needs node '%s''s links, which %s holds; this application instance (member "
        + "%s) follows: its commits reach the peers through the holder, and it takes the links over if the holder "
        + "stops. Call it on the member holding the links (its admin address serves such calls too); updates, "
        + "transfers, transitions and ephemeral objects work on every member").formatted(call, nodeName(),
        node.lease.holderDescription(), node.lease.memberId()));
  }

  private void requireLinks(String call) {
    if (!node.holding()) {
      throw following(call);
    }
  }

  @Override
  public Optional<String> listenAddress() {
    return node.holding() ? node.servers.replicationAddress() : Optional.empty();
  }

  @Override
  public Optional<String> webAddress() {
    return node.holding() ? node.servers.webAddress() : Optional.empty();
  }

  @Override
  public ServerServiceDefinition replicationService() {
    requireLinks("replicationService()");
    return node.peerHost.replicationService().bindService();
  }

  @Override
  public void connect(String address) {
    requireLinks("connect()");
    node.peerHost.connect(address);
  }

  @Override
  public void connect(String description, Channel channel) {
    requireLinks("connect()");
    node.peerHost.dial(description, channel, null);
  }

  @Override
  public CompletableFuture<CatchUpReport> caughtUp(String peerName) {
    if (!node.holding()) {
      return CompletableFuture.failedFuture(following("caughtUp()"));
    }
    PeerConnection connection = node.peers.get(peerName);
    // ephemeral objects put so far are offered first (their sends are queued in order)
    return connection == null ? node.peers.notConnected(peerName)
        : node.ephemerals.queuedSends().thenCompose(ignored -> connection.caughtUp());
  }

  @Override
  public Set<String> connectedPeers() {
    return node.holding() ? node.peers.connectedNames() : Set.of();
  }

  private static Map<RefusalReason, Long> byReason(Map<dev.entanglement.proto.v1.RejectReason, Long> counts) {
    Map<RefusalReason, Long> byReason = new java.util.EnumMap<>(RefusalReason.class);
    counts.forEach((reason, count) -> byReason.merge(RefusalReason.named(reason.name()), count, Long::sum));
    return byReason;
  }

  @Override
  public List<PeerStatus> peers() {
    List<PeerStatus> result = new ArrayList<>();
    if (!node.holding()) {
      return result; // a follower has no links
    }
    for (PeerConnection c : node.peers.all()) {
      result.add(new PeerStatus(c.peerName(), c.address(), c.dialer(), PeerStatus.State.valueOf(c.state().name()),
          c.since(), c.outboxDepth(), c.coalesced(), c.stats().changesSent(), c.stats().catchUpObjectsSent(), c.stats().bytesSent(),
          c.stats().changesAcknowledged(), c.stats().changesRejectedByPeer(), c.stats().changesReceived(), c.stats().changesRejectedHere(),
          c.stats().changesAppliedHere(), c.identity(), c.paused(), byReason(c.stats().rejectedHereByReason())));
    }
    return result;
  }

  @Override
  public CompletableFuture<ResyncReport> resync(String peerName, ResyncMode mode) {
    Objects.requireNonNull(mode, "mode");
    if (!node.holding()) {
      return CompletableFuture.failedFuture(following("resync()"));
    }
    PeerConnection connection = node.peers.get(peerName);
    return connection == null ? node.peers.notConnected(peerName) : connection.requestResync(mode);
  }

  @Override
  public CompletableFuture<List<AdoptionStatus>> adopt(Class<?>... types) {
    if (!node.holding()) {
      return CompletableFuture.failedFuture(following("adopt()"));
    }
    return node.adoption.adopt(adoptedTypes(java.util.Arrays.stream(types).map(type -> {
      EntangledType known = node.model.types().stream()
          .filter(t -> t.persister().getMappedClass() == type).findFirst().orElse(null);
      if (known == null) {
        throw new IllegalArgumentException("%s is not an @Entangled entity of node '%s'; its entities: %s".formatted(
            type.getName(), nodeName(), node.model.types().stream().map(EntangledType::name).sorted().toList()));
      }
      return known.name();
    }).toList()));
  }

  /** The types to adopt: these names (all when empty), checked against the model. */
  List<EntangledType> adoptedTypes(List<String> names) {
    if (names.isEmpty()) {
      return List.copyOf(node.model.types());
    }
    List<EntangledType> types = new java.util.ArrayList<>();
    for (String name : names) {
      EntangledType type = node.model.byName(name);
      if (type == null) {
        throw new IllegalArgumentException("node '%s' has no @Entangled entity named '%s'; it has %s".formatted(
            nodeName(), name, node.model.types().stream().map(EntangledType::name).sorted().toList()));
      }
      types.add(type);
    }
    return types;
  }

  @Override
  public List<AdoptionStatus> adoption() {
    requireLinks("adoption()");
    return node.adoption.status();
  }

  @Override
  public int parkedChanges() {
    requireLinks("parkedChanges()");
    return node.applier.parkedCount();
  }

  @Override
  public void runHousekeeping() {
    requireLinks("runHousekeeping()");
    node.housekeeper.run();
  }

  @Override
  public <T> CompletableFuture<T> update(Class<T> type, Object id, Consumer<? super T> change) {
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

  @Override
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

  @Override
  @SuppressWarnings("unchecked")
  public <T> CompletableFuture<T> create(T entity, String owner) {
    if (owner.equals(nodeName())) {
      return inScope(session -> {
        session.persist(entity);
        return entity;
      });
    }
    if (inCallerTransaction()) {
      return CompletableFuture.failedFuture(cannotJoin("create(..., \"%s\")".formatted(owner),
          "asks the owner '%s' in a transaction of its own".formatted(owner)));
    }
    try {
      EntityPersister persister = node.factory.getMappingMetamodel().getEntityDescriptor(entity.getClass());
      EntangledType type = node.model.byEntityName(persister.getEntityName());
      if (type == null) {
        throw new IllegalArgumentException(entity.getClass().getName() + " is not an @Entangled entity");
      }
      Object id = persister.getIdentifier(entity, (SharedSessionContractImplementor) null);
      if (id == null && type.idCodec().javaType() == UUID.class) {
        id = UUID.randomUUID();
        persister.setIdentifier(entity, id, null);
      }
      if (id == null) {
        throw new IllegalArgumentException("set the id of the " + type.name() + " to create at '" + owner + "'");
      }
      ForwardRequest request = new ForwardRequest(type, id, type.key(type.idText(id)), owner, RequestKind.CREATE,
          type.changedAttributes(null, persister.getValues(entity)), null);
      PendingRequestStore.Row row = Forwarder.prepare(node.config.nodeName(), request, node.config.wallClock().instant(),
          node.config.requestLifetime());
      if (!node.holding()) {
        // a follower: stored for the member holding the links, which sends it and writes its outcome
        storeRequest(row, node.lease.memberId());
        return (CompletableFuture<T>) node.memberRequests.await(request, row);
      }
      if (!node.forwarder.hasRoom(1)) {
        throw new EntanglementException(NodeCaptureSink.full(node));
      }
      storeRequest(row, null);
      return (CompletableFuture<T>) node.forwarder.submit(request, row);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(documented(e));
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public <T> CompletableFuture<T> transfer(Class<T> type, Object id, String newOwner) {
    if (inCallerTransaction()) {
      return CompletableFuture.failedFuture(cannotJoin("transfer(...)",
          "writes the hand-over in a transaction of its own, which would wait on the row locks of the caller's"));
    }
    try {
      EntangledType entangled = entangled(type);
      if (!node.holding()) { // the member holding the links hands the object over; the result is read here
        return node.memberLink.call(MemberCall.newBuilder().setTransfer(MemberTransfer.newBuilder()
                .setEntity(entangled.name()).setId(entangled.idCodec().encode(id)).setNewOwner(newOwner)))
            .thenApply(reply -> type.cast(OwnershipHosts.load(node, entangled, id)));
      }
      return (CompletableFuture<T>) node.handover.start(entangled, id, newOwner);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  @Override
  public <T> Transition<T> startTransition(Class<T> type, Object id) {
    if (!node.holding()) { // the copy lives here, the transition at the member holding the links
      return new FollowerTransition<>(node.memberLink, node, type, entangled(type), id);
    }
    return node.transitions.start(type, entangled(type), id);
  }

  @Override
  public <T> void addChangeListener(Class<T> type, ChangeListener<T> listener) {
    node.appliedChanges.add(type, listener);
  }

  @Override
  public void removeChangeListener(ChangeListener<?> listener) {
    node.appliedChanges.remove(listener);
  }

  @Override
  public void addTransitionListener(TransitionListener listener) {
    node.listeners.addTransitionListener(listener);
  }

  @Override
  public void removeTransitionListener(TransitionListener listener) {
    node.listeners.removeTransitionListener(listener);
  }

  @Override
  public void addRequestListener(RequestListener listener) {
    node.listeners.addRequestListener(listener);
  }

  @Override
  public void removeRequestListener(RequestListener listener) {
    node.listeners.removeRequestListener(listener);
  }

  @Override
  public List<PendingRequest> pendingRequests() {
    return node.holding() ? node.forwarder.pendingRequests() : List.of(); // a follower's wait in the database for the holder
  }

  @Override
  public void addPolicy(Policy policy) {
    node.listeners.addPolicy(policy);
    policyChanged();
  }

  @Override
  public void policyChanged() {
    if (!node.holding()) {
      return; // the holder decides what peers get
    }
    for (PeerConnection connection : node.peers.connected()) {
      connection.pushFullSync();
    }
    node.ephemerals.resend(); // grants only: see docs/ephemeral.md
  }

  @Override
  public List<PolicyDenial> policyDenials() {
    if (!node.holding()) {
      return List.of();
    }
    return node.policy.engine().denials();
  }

  @Override
  public CompletableFuture<Integer> removeOwner(String owner) {
    if (!node.holding()) {
      return CompletableFuture.failedFuture(following("removeOwner()"));
    }
    return node.ownerRemoval.remove(owner);
  }

  @Override
  public <T> EphemeralObjects<T> ephemeral(Class<T> type) {
    return ephemeral(type, null);
  }

  @Override
  public <T> EphemeralObjects<T> ephemeral(Class<T> type, Duration timeToLive) {
    if (!node.holding()) { // kept at the member holding the links, mirrored here
      return node.memberLink.ephemeral(type, timeToLive);
    }
    return node.ephemerals.register(type, timeToLive);
  }

  @Override
  public ServerServiceDefinition adminService() {
    requireLinks("adminService()");
    node.adminConfig.requireCredentials();
    return ServerInterceptors.intercept(new AdminService(new AdminView(node)),
        new AdminAccess(nodeName(), node.adminConfig));
  }

  @Override
  public Optional<String> adminAddress() {
    return node.holding() ? node.servers.adminAddress() : Optional.empty();
  }

  @Override
  public Optional<String> ownerOf(Class<?> type, Object id) {
    EntangledType entangled = node.model.byEntityName(entityName(type));
    if (entangled == null) {
      return Optional.empty();
    }
    Bookkeeping.ObjectRow row = node.reads.row(entangled.name(), entangled.idText(id));
    return row == null || row.deleted() ? Optional.empty() : Optional.of(row.effectiveOwner());
  }

  @Override
  public Optional<ObjectInfo> describe(Class<?> type, Object id) {
    EntangledType entangled = entangled(type);
    String idText = entangled.idText(id);
    Bookkeeping.ObjectRow row = node.reads.row(entangled.name(), idText);
    if (row == null) {
      return Optional.empty();
    }
    return Optional.of(new ObjectInfo(entangled.name(), idText, row.effectiveOwner(), row.serial(), row.epoch(),
        row.deleted(), Optional.ofNullable(row.handoverTo()),
        node.holding() ? node.forwarder.pendingFor(entangled.key(idText)) : 0));
  }

  @Override
  public boolean disconnect(String peer) {
    return node.holding() && node.peers.remove(peer);
  }

  @Override
  public boolean pause(String peer) {
    return node.holding() && node.peers.pause(peer);
  }

  @Override
  public boolean resume(String peer) {
    return node.holding() && node.peers.resume(peer);
  }

  private String entityName(Class<?> type) {
    try {
      return node.factory.getMappingMetamodel().getEntityDescriptor(type).getEntityName();
    } catch (UnknownEntityTypeException e) {
      throw new IllegalArgumentException("%s is not an entity of this persistence unit (node '%s')"
          .formatted(type.getName(), node.config.nodeName()), e);
    }
  }

  private EntangledType entangled(Class<?> type) {
    EntangledType entangled = node.model.byEntityName(entityName(type));
    if (entangled == null) {
      throw new IllegalArgumentException(type.getName() + " is not an @Entangled entity");
    }
    return entangled;
  }

  /** Writes a request made outside any application transaction ({@code create}) in one of its own. */
  private void storeRequest(PendingRequestStore.Row row, String member) {
    try (StatelessSession session = node.factory.openStatelessSession()) {
      session.beginTransaction();
      try {
        session.doWork(connection -> PendingRequestStore.insert(connection, List.of(row), member, member != null));
        session.getTransaction().commit();
      } catch (RuntimeException e) {
        if (session.getTransaction().isActive()) {
          session.getTransaction().rollback();
        }
        throw e;
      }
    }
  }

  /**
   * Runs work in a transaction of its own, collecting the update requests it makes: completes
   * with its result once every request has succeeded (at once if none was made), or fails with
   * the first failure, the others attached as suppressed.
   */
  @SuppressWarnings("unchecked")
  private <T> CompletableFuture<T> inScope(Function<Session, T> work) {
    Session caller;
    try {
      caller = callerSession();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (caller != null) {
      return joined(caller, work);
    }
    try (RequestScope scope = RequestScope.open(); Session session = node.factory.openSession()) {
      session.beginTransaction();
      T result;
      try {
        result = work.apply(session);
        session.getTransaction().commit();
      } catch (RuntimeException e) {
        if (session.getTransaction().isActive()) {
          session.getTransaction().rollback();
        }
        throw documented(staleAsConflict(e));
      }
      List<CompletableFuture<Object>> requests = List.copyOf(scope.futures());
      if (requests.isEmpty()) {
        return CompletableFuture.completedFuture(result);
      }
      if (requests.size() == 1) {
        return (CompletableFuture<T>) (CompletableFuture<?>) requests.get(0);
      }
      return allOf(requests).thenApply(results -> (T) results.get(0));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(documented(e)); // also opening the session or transaction
    }
  }

  /**
   * The session of the application's transaction active on this thread for this node's factory
   * ({@link dev.entanglement.hibernate.CallerTransactions}), or null.
   */
  private Session callerSession() {
    if (node.callerTransactions == null) {
      return null;
    }
    Session session = node.callerTransactions.current(node.factory).orElse(null);
    if (session == null || !session.isOpen() || !session.getTransaction().isActive()) {
      return null;
    }
    if (session.getSessionFactory() != node.factory) {
      throw new EntanglementException(("the transaction active on this thread belongs to another persistence unit "
          + "than node '%s''s; call the node of that unit, or call this one outside that transaction")
          .formatted(nodeName()));
    }
    if (session.getHibernateFlushMode() == org.hibernate.FlushMode.MANUAL) {
      // Spring's read-only transactions never flush: the joined change would silently not be written
      throw new EntanglementException(("the caller's transaction at node '%s' is read-only (flush mode MANUAL): a "
          + "change made in it would not be written; call this from a read-write transaction").formatted(nodeName()));
    }
    return session;
  }

  /** Whether the application runs a transaction on this thread that the call would have to join. */
  private boolean inCallerTransaction() {
    try {
      return callerSession() != null;
    } catch (EntanglementException e) {
      return true; // a transaction of another unit or a read-only one: still not one to open a second beside
    }
  }

  /** Why a call cannot join the caller's transaction. */
  private EntanglementException cannotJoin(String call, String why) {
    return new EntanglementException(("%s cannot run inside the caller's transaction (node '%s'): it %s. Call it "
        + "outside the @Transactional method, or after its commit (for example from a TransactionSynchronization's "
        + "afterCommit)").formatted(call, nodeName(), why));
  }

  /**
   * Runs work in the caller's session and transaction: the write is the caller's, its commit
   * publishes it and forwards the update requests (see {@link JoinedTransaction}).
   */
  private <T> CompletableFuture<T> joined(Session session, Function<Session, T> work) {
    JoinedTransaction joined = JoinedTransaction.of(session, nodeName());
    T result;
    try {
      result = work.apply(session);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(documented(staleAsConflict(e)));
    }
    return joined.afterCommit(result);
  }

  /**
   * A local commit that lost an optimistic-lock race (a newer state of the object was applied
   * meanwhile) is the same outcome as a request the owner refused for that reason.
   */
  private RuntimeException staleAsConflict(RuntimeException e) {
    for (Throwable cause = e; cause != null; cause = cause.getCause()) {
      if (cause instanceof OptimisticLockException || cause instanceof StaleStateException) {
        UpdateRequestException.Conflict conflict = new UpdateRequestException.Conflict(nodeName(),
            "the object changed at '%s' while this change was committed: %s".formatted(nodeName(), cause.getMessage()));
        conflict.initCause(e);
        return conflict;
      }
    }
    return e;
  }

  /**
   * The documented type for a failure of the local transaction, so that a future of
   * {@code update}, {@code delete} or {@code create} never fails with a raw Hibernate or JPA
   * exception: a transient database failure (pool exhausted, connection lost, deadlock) becomes
   * {@link UpdateRequestException.DatabaseUnavailable} (nothing was written or sent: retryable),
   * a constraint the database enforced on this node's own object a refusal by this node, any
   * other persistence failure an {@link EntanglementException} naming the node. Exceptions of
   * the plugin and of the application's own code pass unchanged.
   */
  private RuntimeException documented(RuntimeException e) {
    if (e instanceof EntanglementException
        || !(e instanceof HibernateException || e instanceof PersistenceException)) {
      return e;
    }
    for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) {
      if (cause instanceof EntanglementException plugin) {
        return plugin; // the plugin failed the commit on purpose (a full request queue, fail-closed capture)
      }
    }
    String self = nodeName();
    if (SqlErrors.isTransient(e)) {
      String cause = SqlErrors.message(e) != null ? SqlErrors.message(e) : String.valueOf(e.getMessage());
      String what = cause.contains("connection pool") ? "the database connection pool of node '%s' is exhausted"
          : "the database of node '%s' failed transiently";
      return new UpdateRequestException.DatabaseUnavailable(null, (what + " (%s); nothing was written or sent, "
          + "try again once the database is available").formatted(self, cause), e);
    }
    String constraint = SqlErrors.message(e);
    if (constraint != null) {
      UpdateRequestException.Refused refused = new UpdateRequestException.Refused(self,
          RefusalReason.CONSTRAINT_VIOLATION, "node '%s' refused the change: %s".formatted(self, constraint));
      refused.initCause(e);
      return refused;
    }
    return new EntanglementException("the local transaction at node '%s' failed: %s".formatted(self, e), e);
  }

  /** Every request's result, in order, or the first failure with the others suppressed. */
  static CompletableFuture<List<Object>> allOf(List<CompletableFuture<Object>> requests) {
    CompletableFuture<List<Object>> combined = new CompletableFuture<>();
    CompletableFuture.allOf(requests.toArray(CompletableFuture[]::new)).whenComplete((ignored, failure) -> {
      Throwable first = null;
      List<Object> results = new ArrayList<>(requests.size());
      for (CompletableFuture<Object> request : requests) {
        try {
          results.add(request.join());
        } catch (RuntimeException e) {
          Throwable cause = e.getCause() != null ? e.getCause() : e;
          if (first == null) {
            first = cause;
          } else if (cause != first) {
            first.addSuppressed(cause);
          }
        }
      }
      if (first != null) {
        combined.completeExceptionally(first);
      } else {
        combined.complete(results);
      }
    });
    return combined;
  }
}
