package dev.entanglement.hibernate.internal;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.EntanglementException;
import dev.entanglement.hibernate.PeerStatus;
import dev.entanglement.hibernate.internal.apply.InboundApplier;
import dev.entanglement.hibernate.internal.boot.EntanglementConfig;
import dev.entanglement.hibernate.internal.capture.CaptureSink;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.PeerHost;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.CatchUpReader;
import dev.entanglement.hibernate.internal.store.SchemaMigrator;
import dev.entanglement.hibernate.internal.transport.Dialer;
import dev.entanglement.hibernate.internal.transport.PeerAddress;
import dev.entanglement.hibernate.internal.transport.ReplicationService;
import dev.entanglement.hibernate.internal.transport.Transports;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.SyncMarker;
import java.util.TreeSet;
import io.grpc.BindableService;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import dev.entanglement.hibernate.internal.core.CatchUpChunk;
import org.hibernate.SessionFactory;
import org.hibernate.SessionFactoryObserver;
import org.hibernate.engine.jdbc.connections.spi.ConnectionProvider;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * The running plugin of one SessionFactory: model, bookkeeping, server, dialers and peer
 * connections. Started by Hibernate when the SessionFactory is ready, stopped when it closes.
 *
 * <h2>Concurrency</h2>
 * {@code peers} (the registered connection per peer name) is a concurrent map changed only in
 * {@link #register} and {@link #unregister}, which synchronize on {@code this}; {@code
 * connections} and {@code dialers} are copy-on-write lists. Lifecycle methods run on the thread
 * that builds or closes the SessionFactory. The serial counter is atomic.
 */
public final class NodeRuntime implements SessionFactoryObserver, CaptureSink, PeerHost {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = Logger.getLogger(NodeRuntime.class);
  private static final Map<SessionFactory, NodeRuntime> RUNNING = new ConcurrentHashMap<>();

  private final transient EntanglementConfig config;
  private transient volatile EntangledModel model;
  private transient volatile SessionFactoryImplementor factory;
  private transient Bookkeeping bookkeeping;
  private transient InboundApplier applier;
  private transient CatchUpReader catchUpReader;
  private final transient Object serialLock = new Object();
  private transient long lastSerial; // guarded by serialLock
  private final transient TreeSet<Long> unfinishedSerials = new TreeSet<>(); // guarded by serialLock
  private transient volatile long compactedThrough;
  private final transient Map<String, Long> peerAcknowledged = new ConcurrentHashMap<>(); // not yet written
  private final transient Map<String, Map<String, Long>> ackedByPeer = new ConcurrentHashMap<>(); // peer -> owner -> serial
  private final transient Map<String, Long> peerAcknowledgedWritten = new ConcurrentHashMap<>();
  private final transient Map<String, String> routes = new ConcurrentHashMap<>(); // owner -> peer it came from
  private final transient dev.entanglement.hibernate.internal.ownership.Ownership ownership =
      new dev.entanglement.hibernate.internal.ownership.Ownership();
  private transient dev.entanglement.hibernate.internal.ownership.Forwarder forwarder;
  private transient dev.entanglement.hibernate.internal.ownership.RequestExecutor requestExecutor;
  private transient dev.entanglement.hibernate.internal.ownership.Handover handover;
  private transient dev.entanglement.hibernate.internal.transition.Transitions transitions;
  private final List<dev.entanglement.hibernate.policy.Policy> nodePolicies = new ArrayList<>();
  /** Owners removed by an operator (here or elsewhere), with the node where it was done. */
  private final java.util.Map<String, String> removedOwners = new java.util.concurrent.ConcurrentHashMap<>();
  private transient dev.entanglement.hibernate.internal.policy.PolicyPoints policy;
  private transient dev.entanglement.hibernate.internal.ephemeral.EphemeralStore ephemerals;
  private transient dev.entanglement.hibernate.internal.admin.AdminConfig adminConfig =
      new dev.entanglement.hibernate.internal.admin.AdminConfig(Optional.empty(), null, java.util.Set.of());
  private transient volatile Server adminServer;
  private transient dev.entanglement.hibernate.internal.metrics.NodeMetrics metrics =
      dev.entanglement.hibernate.internal.metrics.NodeMetrics.NONE;
  /** Decides update requests and hand-overs one at a time, in the order they arrive. */
  private transient java.util.concurrent.Executor decisions;
  private final transient AtomicLong captureFailures = new AtomicLong();
  private transient ExecutorService pool;
  private transient ScheduledExecutorService scheduler;
  private transient Server server;
  private final transient Map<String, PeerConnection> peers = new ConcurrentHashMap<>();
  private final transient List<PeerConnection> connections = new CopyOnWriteArrayList<>();
  private final transient List<Dialer> dialers = new CopyOnWriteArrayList<>();
  /** Peers an operator paused: their next streams start paused too, until resumed. */
  private final transient Set<String> pausedPeers = ConcurrentHashMap.newKeySet();
  private transient volatile boolean running;

  public NodeRuntime(EntanglementConfig config) {
    this.config = config;
  }

  /** The runtime of a SessionFactory, if the plugin runs for it. */
  public static Optional<NodeRuntime> of(SessionFactory factory) {
    return Optional.ofNullable(RUNNING.get(factory));
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  @Override
  public void sessionFactoryCreated(SessionFactory sessionFactory) {
    SessionFactoryImplementor sf = (SessionFactoryImplementor) sessionFactory;
    List<Bookkeeping.ObjectRow> ownershipRows;
    EntangledModel scanned = EntangledModel.scan(sf);
    if (scanned.isEmpty()) {
      LOG.infof("Entanglement node '%s': no @Entangled entities in this persistence unit; nothing is captured",
          config.nodeName());
    }
    bookkeeping = Bookkeeping.forDialect(sf.getJdbcServices().getDialect());
    ConnectionProvider connectionProvider = sf.getServiceRegistry().requireService(ConnectionProvider.class);
    if (config.migrateSchema()) {
      SchemaMigrator.migrate(connectionProvider);
    }
    try {
      Connection connection = connectionProvider.getConnection();
      try {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(true);
        try {
          if (!config.migrateSchema()) {
            SchemaMigrator.verify(connection);
          }
          Bookkeeping.claimNode(connection, config.nodeName());
          lastSerial = Bookkeeping.lastSerial(connection, config.nodeName());
          compactedThrough = Bookkeeping.compactedThrough(connection, config.nodeName());
          peerAcknowledgedWritten.putAll(bookkeeping.peerPositions(connection, config.nodeName()));
          ownershipRows = bookkeeping.ownershipRows(connection, config.nodeName());
          for (Bookkeeping.ObjectRow row : ownershipRows) {
            String key = row.entity() + '#' + row.id();
            if (row.effectiveOwner().equals(config.nodeName())) {
              ownership.ownedHere(key, row.owner().equals(config.nodeName()) ? row.epoch() : 0);
            } else {
              ownership.owned(key, row.effectiveOwner());
            }
          }
        } finally {
          connection.setAutoCommit(autoCommit);
        }
      } finally {
        connectionProvider.closeConnection(connection);
      }
    } catch (SQLException e) {
      throw new EntanglementConfigurationException(
          "Entanglement could not read its tables at start: " + e.getMessage(), e);
    }
    policy = new dev.entanglement.hibernate.internal.policy.PolicyPoints(
        new dev.entanglement.hibernate.internal.policy.PolicyEngine(nodePolicies, scanned, this::peerRef), scanned, sf);
    applier = new InboundApplier(sf, scanned, bookkeeping, config.nodeName());
    applier.load();
    applier.hooks(new InboundApplier.Hooks() {
      @Override
      public String directionProblem(String owner, String peer) {
        return NodeRuntime.this.directionProblem(owner, peer);
      }

      @Override
      public String deniedMessage(String peer, dev.entanglement.hibernate.internal.model.EntangledType type, Change change) {
        String removedBy = removedOwners.get(change.getOwner());
        if (removedBy != null) {
          return "owner '%s' was removed by an operator at '%s'; its objects are not accepted".formatted(
              change.getOwner(), removedBy);
        }
        return policy.changeDenied(peer, type, change);
      }

      @Override
      public dev.entanglement.proto.v1.Outcome applyEphemeral(String peer, Change change) {
        return ephemerals.apply(peer, change);
      }

      @Override
      public boolean relayIgnored(String owner, String peer) {
        return !owner.equals(peer) && peers.containsKey(owner);
      }

      @Override
      public boolean objectStage() {
        return policy.objectStage();
      }

      @Override
      public String deniedObject(String peer, dev.entanglement.hibernate.internal.model.EntangledType type, Change change,
          Object incoming, Object stored) {
        return policy.objectDenied(peer, type, policy.messageOf(type, change), incoming, stored);
      }

      @Override
      public void applied(String peer, List<Change> changes) {
        for (Change change : changes) {
          String key = applier.objectKey(change);
          if (key != null) {
            String effectiveOwner = change.getHandoverTo().isEmpty() ? change.getOwner() : change.getHandoverTo();
            if (change.getOperation() == dev.entanglement.proto.v1.Operation.DELETE) {
              ownership.gone(key);
            } else if (!effectiveOwner.equals(config.nodeName())) {
              ownership.owned(key, effectiveOwner);
            }
            handover.applied(key, change);
            transitions.committed(key, change);
          }
        }
        relay(peer, changes);
        forwarder.applied(changes);
      }
    });
    catchUpReader = new CatchUpReader(sf, scanned, bookkeeping);
    forwarder = new dev.entanglement.hibernate.internal.ownership.Forwarder(new ForwarderHost());
    requestExecutor = new dev.entanglement.hibernate.internal.ownership.RequestExecutor(sf, scanned, bookkeeping,
        new dev.entanglement.hibernate.internal.ownership.RequestExecutor.Host() {
          @Override
          public String nodeName() {
            return config.nodeName();
          }

          @Override
          public long nextSerial() {
            return NodeRuntime.this.nextSerial();
          }

          @Override
          public void finished(List<Long> serials) {
            NodeRuntime.this.finished(serials);
          }

          @Override
          public void publish(List<Outgoing> changes) {
            NodeRuntime.this.publish(changes);
          }

          @Override
          public String deniedObject(String peer, dev.entanglement.hibernate.internal.model.EntangledType type,
              dev.entanglement.proto.v1.UpdateRequest request, Object incoming, Object stored) {
            return policy.objectDenied(peer, type, policy.messageOf(type, request), incoming, stored);
          }
        });
    String node = config.nodeName();
    pool = Executors.newCachedThreadPool(threads("entanglement-" + node + "-worker"));
    scheduler = Executors.newSingleThreadScheduledExecutor(threads("entanglement-" + node + "-scheduler"));
    decisions = new dev.entanglement.hibernate.internal.core.SerialExecutor(pool);
    handover = new dev.entanglement.hibernate.internal.ownership.Handover(sf, scanned, bookkeeping, ownership, decisions,
        new HandoverHost());
    handover.takeOverPending(ownershipRows);
    transitions = new dev.entanglement.hibernate.internal.transition.Transitions(scanned, new TransitionHost(),
        new dev.entanglement.hibernate.internal.core.SerialExecutor(pool));
    ephemerals = new dev.entanglement.hibernate.internal.ephemeral.EphemeralStore(
        new dev.entanglement.hibernate.internal.ephemeral.EphemeralStore.Host() {
          @Override
          public String nodeName() {
            return config.nodeName();
          }

          @Override
          public java.util.Collection<PeerConnection> connections() {
            return peers.values();
          }

          @Override
          public PeerConnection connection(String peer) {
            return peers.get(peer);
          }

          @Override
          public String receiveDenied(String peer, Class<?> type, Change change) {
            return policy.ephemeralDenied(peer, type, change);
          }

          @Override
          public String receiveObjectDenied(String peer, Class<?> type, Change change, Object incoming, Object stored) {
            return policy.ephemeralObjectDenied(peer, type, change, incoming, stored);
          }

          @Override
          public String removedBy(String owner) {
            return removedOwners.get(owner);
          }

          @Override
          public boolean isEntity(String name) {
            return scanned.byName(name) != null;
          }
        }, pool);
    policy.ephemeralTypes(ephemerals::typeNamed);
    policy.ephemeralValues(ephemerals::decoded);
    model = scanned;
    factory = sf;
    running = true;
    try {
      if (config.listen().isPresent()) {
        server = Transports.startServer(node, config.listen().get(), replicationService(), config.tls());
        LOG.infof("Entanglement node '%s' listens on %s", node, listenAddress().orElse("?"));
      }
    } catch (IOException e) {
      stop();
      throw new EntanglementConfigurationException("Setting entanglement.listen has the value '%s', "
          .formatted(config.listen().get()) + "but the node could not listen there: " + e.getMessage(), e);
    }
    if (adminConfig.listen().isPresent()) {
      startAdminServer(adminConfig.listen().get());
    }
    for (PeerAddress address : config.peers()) {
      ManagedChannel channel = Transports.channel(address, config.tls());
      startDialer(address.toString(), channel, channel);
    }
    long every = config.compactionInterval().toMillis();
    scheduler.scheduleWithFixedDelay(this::housekeeping, every, every, TimeUnit.MILLISECONDS);
    long flush = config.heartbeatInterval().toMillis();
    scheduler.scheduleWithFixedDelay(this::writePeerPositions, flush, flush, TimeUnit.MILLISECONDS);
    // ephemeral objects whose time to live passed disappear within about 100 ms of it
    scheduler.scheduleWithFixedDelay(() -> {
      try {
        ephemerals.expire();
      } catch (RuntimeException e) {
        LOG.errorf(e, "Could not expire ephemeral objects");
      }
    }, 100, 100, TimeUnit.MILLISECONDS);
    pool.execute(() -> applier.retryParked(Integer.MAX_VALUE));
    RUNNING.put(sessionFactory, this);
    LOG.infof("Entanglement node '%s' started (%d replicated entity types, last serial %d)",
        node, scanned.types().size(), lastSerial);
  }

  @Override
  public void sessionFactoryClosing(SessionFactory sessionFactory) {
    RUNNING.remove(sessionFactory);
    stop();
  }

  private void stop() {
    if (!running) {
      return;
    }
    running = false;
    for (Dialer dialer : dialers) {
      dialer.stop();
    }
    List<CompletableFuture<Void>> closing = new ArrayList<>();
    for (PeerConnection connection : connections) {
      closing.add(connection.close());
    }
    try {
      CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.debugf("Not every peer stream closed in time: %s", e);
    }
    if (server != null) {
      server.shutdown();
    }
    if (adminServer != null) {
      adminServer.shutdownNow();
    }
    writePeerPositions();
    try {
      for (Dialer dialer : dialers) {
        dialer.awaitTermination(Duration.ofSeconds(5));
      }
      if (server != null && !server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    scheduler.shutdownNow();
    pool.shutdown();
    try {
      if (!pool.awaitTermination(5, TimeUnit.SECONDS)) {
        pool.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    LOG.infof("Entanglement node '%s' stopped", config.nodeName());
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return task -> {
      Thread thread = new Thread(task, prefix + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }

  // ---- programmatic API (through Entanglement) ---------------------------------------------

  public BindableService replicationService() {
    return new ReplicationService(this, connections::add);
  }

  /** The address the node listens on, with the port actually bound. */
  public Optional<String> listenAddress() {
    if (server == null) {
      return Optional.empty();
    }
    PeerAddress configured = config.listen().orElseThrow();
    if (!configured.isNetwork()) {
      return Optional.of(configured.toString());
    }
    InetSocketAddress bound = (InetSocketAddress) server.getListenSockets().get(0);
    return Optional.of(new PeerAddress(configured.host(), bound.getPort()).toString());
  }

  public void connect(String target) {
    PeerAddress address;
    try {
      address = PeerAddress.parse(target);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("peer address '%s' is invalid; expected %s".formatted(target, e.getMessage()));
    }
    if (address.isNetwork() && !config.plaintext() && config.tls() == null) {
      throw new EntanglementException(("cannot dial %s: TCP peers need mutual TLS (entanglement.tls.*), "
          + "or entanglement.transport.plaintext=true on a trusted network").formatted(target));
    }
    ManagedChannel channel = Transports.channel(address, config.tls());
    startDialer(address.toString(), channel, channel);
  }

  public void connect(String description, Channel channel) {
    startDialer(description, channel, null);
  }

  private void startDialer(String target, Channel channel, ManagedChannel owned) {
    requireRunning();
    Dialer dialer = new Dialer(this, target, channel, owned, scheduler,
        config.reconnectInitialDelay(), config.reconnectMaxDelay(), connections::add);
    dialers.add(dialer);
    dialer.start();
  }

  public CompletableFuture<Void> caughtUp(String peerName) {
    PeerConnection connection = peers.get(peerName);
    // ephemeral objects put so far are offered first (their sends are queued in order)
    return connection == null ? notConnected(peerName)
        : ephemerals.queuedSends().thenCompose(ignored -> connection.caughtUp());
  }

  private <T> CompletableFuture<T> notConnected(String peerName) {
    return CompletableFuture.failedFuture(new IllegalArgumentException(
        "node '%s' has no connected peer named '%s'; connected: %s".formatted(
            config.nodeName(), peerName, peers.keySet())));
  }

  public List<PeerStatus> peers() {
    List<PeerStatus> result = new ArrayList<>();
    for (PeerConnection c : connections) {
      result.add(new PeerStatus(c.peerName(), c.address(), c.dialer(), c.state().name(), c.since(),
          c.outboxDepth(), c.coalesced(), c.changesSent(), c.catchUpObjectsSent(), c.bytesSent(),
          c.changesAcknowledged(),
          c.changesRejectedByPeer(), c.changesReceived(), c.changesRejectedHere(), c.changesAppliedHere(),
          c.identity()));
    }
    return result;
  }

  public Set<String> connectedPeers() {
    return Set.copyOf(peers.keySet());
  }

  private void requireRunning() {
    if (!running) {
      throw new IllegalStateException("Entanglement node '" + config.nodeName() + "' is not running");
    }
  }

  // ---- CaptureSink -------------------------------------------------------------------------

  @Override
  public String nodeName() {
    return config.nodeName();
  }

  @Override
  public Bookkeeping bookkeeping() {
    return bookkeeping;
  }

  @Override
  public long nextSerial() {
    synchronized (serialLock) {
      long next = ++lastSerial;
      unfinishedSerials.add(next);
      return next;
    }
  }

  @Override
  public void finished(List<Long> serials) {
    if (serials.isEmpty()) {
      return;
    }
    synchronized (serialLock) {
      unfinishedSerials.removeAll(serials);
    }
    for (PeerConnection connection : peers.values()) {
      connection.positionsMayMove();
    }
  }

  @Override
  public long lowestUnfinishedSerial() {
    synchronized (serialLock) {
      return unfinishedSerials.isEmpty() ? lastSerial + 1 : unfinishedSerials.first();
    }
  }

  @Override
  public void ensureSerialAbove(long serial) {
    synchronized (serialLock) {
      lastSerial = Math.max(lastSerial, serial);
    }
  }

  @Override
  public long compactedThrough() {
    return compactedThrough;
  }

  @Override
  public CatchUpChunk readCatchUp(String owner, long after, int limit) {
    return catchUpReader.read(owner, after, limit);
  }

  @Override
  public void acknowledged(String peer, String owner, long serial) {
    if (owner.equals(config.nodeName())) {
      peerAcknowledged.merge(peer, serial, Math::max);
    }
    ackedByPeer.computeIfAbsent(peer, p -> new ConcurrentHashMap<>()).merge(owner, serial, Math::max);
  }

  // ---- what operators see and do (the admin service) ----------------------------------------

  /** How many of an owner's rows have a serial above {@code after} (0 if it cannot be read). */
  public long countChangedSince(String owner, long after) {
    try (var session = factory.openStatelessSession()) {
      return session.doReturningWork(c -> bookkeeping.countChangedSince(c, owner, after));
    }
  }

  /** An object's bookkeeping row, or null. */
  public Bookkeeping.ObjectRow objectRow(String entity, String id) {
    try (var session = factory.openStatelessSession()) {
      return session.doReturningWork(c -> bookkeeping.read(c, entity, id));
    }
  }

  /** Per owner held here: [live objects, tombstones]. */
  public Map<String, long[]> ownerCounts() {
    try (var session = factory.openStatelessSession()) {
      return session.doReturningWork(bookkeeping::ownerCounts);
    }
  }

  /** How far this node holds each other owner's objects. */
  public Map<String, Long> heldPositionsByOwner() {
    return applier.positions();
  }

  /** The admin service with its access control, for the application's own gRPC server. */
  public io.grpc.ServerServiceDefinition adminService() {
    adminConfig.requireCredentials();
    return io.grpc.ServerInterceptors.intercept(new dev.entanglement.hibernate.internal.admin.AdminService(this),
        new dev.entanglement.hibernate.internal.admin.AdminAccess(config.nodeName(), adminConfig));
  }

  /** Sets where the node's metrics go (set at boot). */
  public void metrics(dev.entanglement.hibernate.internal.metrics.NodeMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public void captured(int changes, long nanos) {
    metrics.captured(changes, nanos);
  }

  /** Sets the admin settings read at boot. */
  public void adminConfig(dev.entanglement.hibernate.internal.admin.AdminConfig admin) {
    this.adminConfig = admin;
  }

  /** The admin server: the admin service behind its access control, gRPC health and reflection. */
  private void startAdminServer(PeerAddress address) {
    var health = new io.grpc.protobuf.services.HealthStatusManager();
    health.setStatus("", io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    health.setStatus(dev.entanglement.proto.v1.AdminGrpc.SERVICE_NAME, io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING);
    var access = new dev.entanglement.hibernate.internal.admin.AdminAccess(config.nodeName(), adminConfig);
    List<io.grpc.ServerServiceDefinition> services = List.of(
        io.grpc.ServerInterceptors.intercept(new dev.entanglement.hibernate.internal.admin.AdminService(this), access),
        health.getHealthService().bindService(),
        io.grpc.protobuf.services.ProtoReflectionServiceV1.newInstance().bindService());
    try {
      adminServer = Transports.startServer(config.nodeName() + " (admin)", address, services,
          config.tls() == null ? null : config.tls().adminServerContext());
    } catch (IOException e) {
      stop();
      throw new EntanglementConfigurationException("Setting entanglement.admin.listen has the value '%s', "
          .formatted(address) + "but the node could not listen there: " + e.getMessage(), e);
    }
    LOG.infof("Entanglement node '%s' serves its admin API on %s", config.nodeName(), adminAddress().orElse("?"));
  }

  /** Where the admin server listens, with the port actually bound. */
  public Optional<String> adminAddress() {
    Server admin = adminServer;
    if (admin == null) {
      return Optional.empty();
    }
    PeerAddress configured = adminConfig.listen().orElseThrow();
    return Optional.of(configured.isNetwork() ? configured.host() + ":" + admin.getPort() : configured.toString());
  }

  /** Every connection, handshaking ones included. */
  public List<PeerConnection> allConnections() {
    return List.copyOf(connections);
  }

  public Optional<PeerConnection> connection(String peer) {
    return Optional.ofNullable(peers.get(peer));
  }

  /** The highest serial this node has given out. */
  public long lastSerial() {
    synchronized (serialLock) {
      return lastSerial;
    }
  }

  /** How far a peer acknowledged an owner's objects in this run (0 if never). */
  public long acknowledgedBy(String peer, String owner) {
    Map<String, Long> byOwner = ackedByPeer.get(peer);
    Long serial = byOwner == null ? null : byOwner.get(owner);
    return serial == null ? 0 : serial;
  }

  public Bookkeeping bookkeepingStore() {
    return bookkeeping;
  }

  public int pendingRequests(String key) {
    return forwarder.pendingFor(key);
  }

  public String transitionOf(String key) {
    return transitions.describe(key);
  }

  public long policyDenials(String peer) {
    return policy.engine().denials(peer);
  }

  /**
   * Stops dialing a peer (by node name or by the address it was added with) and ends its stream.
   * Returns false if there is no such peer.
   */
  public boolean removePeer(String nameOrAddress) {
    boolean found = false;
    for (Dialer dialer : dialers) {
      PeerConnection current = dialer.current();
      if (dialer.target().equals(nameOrAddress) || current != null && nameOrAddress.equals(current.peerName())) {
        dialers.remove(dialer);
        dialer.stop();
        found = true;
      }
    }
    PeerConnection connection = peers.get(nameOrAddress);
    if (connection != null) {
      connection.close();
      found = true;
    }
    if (found) {
      pausedPeers.remove(nameOrAddress);
    }
    return found;
  }

  /** The addresses this node dials (as given in entanglement.peers or added). */
  public List<String> dialTargets() {
    return dialers.stream().map(Dialer::target).toList();
  }

  /**
   * Pauses the flow with a connected peer, for this stream and the next ones, until resumed.
   * Returns false if no stream with the peer is open.
   */
  public boolean pausePeer(String peer) {
    PeerConnection connection = peers.get(peer);
    if (connection == null) {
      return false;
    }
    pausedPeers.add(peer);
    connection.pause().join();
    return true;
  }

  /** Resumes the flow with a paused peer. Returns false if no stream with the peer is open. */
  public boolean resumePeer(String peer) {
    pausedPeers.remove(peer);
    PeerConnection connection = peers.get(peer);
    if (connection == null) {
      return false;
    }
    connection.resume().join();
    return true;
  }

  private dev.entanglement.hibernate.internal.metrics.NodeMetrics.PeerFigures peerFigures(String peer) {
    return new dev.entanglement.hibernate.internal.metrics.NodeMetrics.PeerFigures() {
      @Override
      public long lagSerials() {
        return Math.max(0, lastSerial() - acknowledgedBy(peer, config.nodeName()));
      }

      @Override
      public long lagObjects() {
        return countChangedSince(config.nodeName(), acknowledgedBy(peer, config.nodeName()));
      }

      @Override
      public long policyDenials() {
        return NodeRuntime.this.policyDenials(peer);
      }
    };
  }

  @Override
  public void rejected(String peer, boolean here, dev.entanglement.proto.v1.RejectReason reason) {
    metrics.rejected(peer, here, reason.name());
  }

  /**
   * Sends a peer everything again: all, one owner's objects (full synchronization with a sweep),
   * or the current state of one entity type (optionally one owner's), without a sweep.
   */
  public String resync(String peer, String owner, String entity) {
    PeerConnection connection = peers.get(peer);
    if (connection == null) {
      throw new IllegalArgumentException("node '%s' has no open stream with a peer named '%s'".formatted(config.nodeName(), peer));
    }
    if (entity == null) {
      connection.pushFullSync(owner);
      return owner == null ? "sending peer '%s' everything again, with a sweep".formatted(peer)
          : "sending peer '%s' the objects of owner '%s' again, with a sweep".formatted(peer, owner);
    }
    if (model.byName(entity) == null) {
      throw new IllegalArgumentException("node '%s' has no @Entangled entity named '%s'".formatted(config.nodeName(), entity));
    }
    List<Outgoing> changes = catchUpReader.readEntity(entity, owner);
    int offered = 0;
    for (Outgoing change : changes) {
      if (!peer.equals(change.change().getOwner())) { // the peer's own objects are not sent back to it
        connection.offer(change);
        offered++;
      }
    }
    return "sending peer '%s' %d %s of %s%s again".formatted(peer, offered, offered == 1 ? "object" : "objects", entity,
        owner == null ? "" : " owned by '" + owner + "'");
  }

  @Override
  public List<OwnerPosition> heldPositions() {
    List<OwnerPosition> held = new ArrayList<>();
    applier.positions().forEach((owner, serial) ->
        held.add(OwnerPosition.newBuilder().setOwner(owner).setSerial(serial).build()));
    return held;
  }

  @Override
  public dev.entanglement.hibernate.internal.ownership.Ownership ownership() {
    return ownership;
  }

  @Override
  public List<java.util.concurrent.CompletableFuture<Object>> forward(
      List<dev.entanglement.hibernate.internal.ownership.ForwardRequest> requests) {
    List<java.util.concurrent.CompletableFuture<Object>> futures = new ArrayList<>(requests.size());
    for (var request : requests) {
      futures.add(forwarder.submit(request));
    }
    return futures;
  }

  @Override
  public void onUpdateRequest(String peer, dev.entanglement.proto.v1.UpdateRequest request) {
    decisions.execute(() -> {
      String denial = policy.requestDenied(peer, request);
      if (denial != null) {
        forwarder.answer(peer, dev.entanglement.proto.v1.RequestOutcome.newBuilder().setRequestId(request.getRequestId())
            .setStatus(dev.entanglement.proto.v1.RequestStatus.REFUSED)
            .setReason(dev.entanglement.proto.v1.RejectReason.POLICY)
            .setMessage("node '%s' refused the request of '%s' for %s#%s: %s".formatted(config.nodeName(),
                request.getOrigin(), request.getEntity(),
                dev.entanglement.hibernate.internal.model.Values.shortText(request.getId()), denial))
            .build());
        return;
      }
      dev.entanglement.proto.v1.UpdateRequest routed = followObject(request);
      if (routed.getOwner().equals(config.nodeName())) {
        forwarder.answer(peer, requestExecutor.execute(peer, routed).toBuilder().setRequestId(routed.getRequestId()).build());
      } else {
        forwarder.relay(peer, routed);
      }
    });
  }

  /**
   * A request addressed to this node for an object it handed over goes on to the node that
   * decides the object now.
   */
  private dev.entanglement.proto.v1.UpdateRequest followObject(dev.entanglement.proto.v1.UpdateRequest request) {
    if (!request.getOwner().equals(config.nodeName())) {
      return request;
    }
    var type = model.byName(request.getEntity());
    if (type == null) {
      return request;
    }
    try {
      Object id = type.idCodec().decode(request.getId(), "id");
      String now = id == null ? null : ownership.remoteOwner(type.key(type.idText(id)));
      return now == null ? request : request.toBuilder().setOwner(now).build();
    } catch (dev.entanglement.hibernate.internal.model.DecodeException e) {
      return request; // the executor answers it with the reason
    }
  }

  /** Hands an own object over to another node (see {@link dev.entanglement.hibernate.internal.ownership.Handover}). */
  public java.util.concurrent.CompletableFuture<Object> transfer(String entityName, Object id, String newOwner) {
    var type = model.byEntityName(entityName);
    if (type == null) {
      return java.util.concurrent.CompletableFuture.failedFuture(
          new IllegalArgumentException(entityName + " is not an @Entangled entity"));
    }
    return handover.start(type, id, newOwner);
  }

  private final class HandoverHost implements dev.entanglement.hibernate.internal.ownership.Handover.Host {
    @Override
    public String nodeName() {
      return config.nodeName();
    }

    @Override
    public long nextSerial() {
      return NodeRuntime.this.nextSerial();
    }

    @Override
    public void finished(List<Long> serials) {
      NodeRuntime.this.finished(serials);
    }

    @Override
    public void publish(List<Outgoing> changes) {
      NodeRuntime.this.publish(changes);
    }

    @Override
    public Object load(dev.entanglement.hibernate.internal.model.EntangledType type, Object id) {
      try (var session = factory.openSession()) {
        return session.find(type.persister().getMappedClass(), id);
      }
    }

    @Override
    public ScheduledExecutorService scheduler() {
      return scheduler;
    }

    @Override
    public Duration timeout() {
      return config.requestTimeout();
    }
  }

  @Override
  public void onRequestOutcome(String peer, dev.entanglement.proto.v1.RequestOutcome outcome) {
    pool.execute(() -> forwarder.outcome(peer, outcome));
  }

  public SessionFactoryImplementor factory() {
    return factory;
  }

  /** The owner of an object this node holds, if it holds it. */
  public Optional<String> ownerOf(String entityName, Object id) {
    var type = model.byEntityName(entityName);
    if (type == null) {
      return Optional.empty();
    }
    try (var session = factory.openStatelessSession()) {
      Bookkeeping.ObjectRow row = session.doReturningWork(c -> bookkeeping.read(c, type.name(), type.idText(id)));
      return row == null || row.deleted() ? Optional.empty() : Optional.of(row.effectiveOwner());
    }
  }

  /** Submits a request of this node (explicit API), e.g. a create for another owner. */
  public java.util.concurrent.CompletableFuture<Object> submit(dev.entanglement.hibernate.internal.ownership.ForwardRequest request) {
    return forwarder.submit(request);
  }

  /** The forwarder's view of the node. */
  private final class ForwarderHost implements dev.entanglement.hibernate.internal.ownership.Forwarder.Host {
    @Override
    public String nodeName() {
      return config.nodeName();
    }

    @Override
    public String routeTo(String owner) {
      return NodeRuntime.this.routeTo(owner);
    }

    @Override
    public boolean send(String peer, dev.entanglement.proto.v1.Envelope envelope) {
      PeerConnection connection = peers.get(peer);
      return connection != null && connection.sendUrgent(envelope);
    }

    @Override
    public long heldSerial(String key) {
      int hash = key.indexOf('#');
      try (var session = factory.openStatelessSession()) {
        Bookkeeping.ObjectRow row = session.doReturningWork(
            c -> bookkeeping.read(c, key.substring(0, hash), key.substring(hash + 1)));
        return row == null ? -1 : row.serial();
      }
    }

    @Override
    public Object load(dev.entanglement.hibernate.internal.ownership.ForwardRequest request) {
      try (var session = factory.openSession()) {
        return session.find(request.type().persister().getMappedClass(), request.id());
      }
    }

    @Override
    public ScheduledExecutorService scheduler() {
      return scheduler;
    }

    @Override
    public java.util.concurrent.Executor pool() {
      return pool;
    }

    @Override
    public Duration timeout() {
      return config.requestTimeout();
    }
  }

  @Override
  public long heldPosition(String owner) {
    return applier.positions().getOrDefault(owner, 0L);
  }

  /**
   * A full-state change of another owner is accepted from any peer: the owner's serial orders
   * its states, so copies arriving over several paths (a triangle, a ring) are answered
   * ALREADY_CURRENT, not refused. Refusing a path would be worse than noise: a position later
   * received over that path could then skip the refused change. Where an owner's changes come
   * from is remembered as the route its update requests take back.
   */
  private String directionProblem(String owner, String peer) {
    if (!owner.equals(peer)) {
      routes.put(owner, peer);
    }
    return null;
  }

  /** The peer towards an owner: the owner itself when connected, else where its changes came from. */
  public String routeTo(String owner) {
    if (peers.containsKey(owner)) {
      return owner;
    }
    String via = routes.get(owner);
    return via != null && peers.containsKey(via) ? via : null;
  }

  /** Floods changes applied from one peer on to the others (never back, never to their owner). */
  private void relay(String from, List<Change> changes) {
    LOG.debugf("Node '%s' relays %d changes from '%s' to %s", config.nodeName(), changes.size(), from, peers.keySet());
    for (PeerConnection connection : peers.values()) {
      String to = connection.peerName();
      if (to.equals(from)) {
        continue;
      }
      for (Change change : changes) {
        if (to.equals(change.getOwner())) {
          continue;
        }
        var type = model.byName(change.getEntity());
        String key = applier.objectKey(change);
        if (type != null && key != null) {
          connection.offer(new Outgoing(key, type.priority(), type.coalesce(), change));
        }
      }
    }
  }

  @Override
  public String objectKey(Change change) {
    return applier.objectKey(change);
  }

  @Override
  public void endFullSync(String peer, SyncMarker end, Set<String> received) {
    applier.endFullSync(peer, end, received);
  }

  @Override
  public long bandwidthLimit() {
    return config.bandwidthLimit();
  }

  @Override
  public Duration heartbeatInterval() {
    return config.heartbeatInterval();
  }

  @Override
  public Duration heartbeatTimeout() {
    return config.heartbeatTimeout();
  }

  @Override
  public ScheduledExecutorService scheduler() {
    return scheduler;
  }

  /** Writes the peers' acknowledged positions that moved (they only guide compaction and lag). */
  private void writePeerPositions() {
    if (peerAcknowledged.isEmpty()) {
      return;
    }
    Map<String, Long> moved = new java.util.HashMap<>();
    peerAcknowledged.forEach((peer, serial) -> {
      if (serial > peerAcknowledgedWritten.getOrDefault(peer, -1L)) {
        moved.put(peer, serial);
      }
    });
    if (moved.isEmpty()) {
      return;
    }
    try (var session = factory.openStatelessSession()) {
      session.beginTransaction();
      session.doWork(connection -> {
        for (Map.Entry<String, Long> entry : moved.entrySet()) {
          bookkeeping.writePeerPosition(connection, entry.getKey(), config.nodeName(), entry.getValue());
        }
      });
      session.getTransaction().commit();
      peerAcknowledgedWritten.putAll(moved);
    } catch (RuntimeException e) {
      LOG.warnf("Could not record the peers' positions: %s", e.getMessage());
    }
  }

  /**
   * Removes tombstones every known peer has acknowledged, and retries parked changes. A peer
   * that comes back after its tombstones are gone gets a full synchronization with a sweep.
   */
  private void housekeeping() {
    try {
      writePeerPositions();
      long through = lowestUnfinishedSerial() - 1;
      for (long acked : peerAcknowledgedWritten.values()) {
        through = Math.min(through, acked);
      }
      if (through > compactedThrough) {
        long target = through;
        int removed;
        try (var session = factory.openStatelessSession()) {
          session.beginTransaction();
          removed = session.doReturningWork(c -> bookkeeping.compactTombstones(c, config.nodeName(), target));
          session.getTransaction().commit();
        }
        compactedThrough = target;
        if (removed > 0) {
          LOG.debugf("Node '%s' removed %d tombstones acknowledged by every known peer (through serial %d)",
              config.nodeName(), removed, target);
        }
      }
      applier.retryParked(1000);
    } catch (RuntimeException e) {
      LOG.warnf("Entanglement housekeeping failed: %s", e.getMessage());
    }
  }

  /** Runs tombstone compaction and parked retries now (tests, admin). */
  public void runHousekeeping() {
    housekeeping();
  }

  public int parkedChanges() {
    return applier.parkedCount();
  }

  public java.util.concurrent.CompletableFuture<Void> resync(String peerName, boolean clear) {
    PeerConnection connection = peers.get(peerName);
    return connection == null ? notConnected(peerName) : connection.requestResync(clear);
  }

  @Override
  public void publish(List<Outgoing> changes) {
    for (PeerConnection connection : peers.values()) {
      for (Outgoing change : changes) {
        connection.offer(change);
      }
    }
    for (Outgoing change : changes) {
      transitions.committed(change.key(), change.change());
    }
  }

  @Override
  public void onTransition(String peer, dev.entanglement.proto.v1.TransitionUpdate update) {
    if (policy.transitionDenied(peer, update) == null) {
      transitions.received(peer, update);
    }
  }

  @Override
  public boolean sendDenied(String peer, Outgoing change) {
    return policy.sendDenied(peer, change.change()) != null;
  }

  /** The peer as policies see it. */
  private dev.entanglement.hibernate.policy.PeerRef peerRef(String name) {
    PeerConnection connection = name == null ? null : peers.get(name);
    return new dev.entanglement.hibernate.policy.PeerRef(name, connection == null ? null : connection.fingerprint());
  }

  /** Policies given at boot ({@code entanglement.policy}); before the factory is built. */
  public void nodePolicies(List<dev.entanglement.hibernate.policy.Policy> policies) {
    nodePolicies.addAll(policies);
  }

  /** Adds a policy at run time and applies the new decisions to every peer. */
  public void addPolicy(dev.entanglement.hibernate.policy.Policy added) {
    policy.engine().add(added);
    policyChanged();
  }

  /**
   * Decisions may have changed: every connected peer is sent everything again as a full
   * synchronization with a sweep, so withdrawn objects disappear there and granted ones arrive.
   */
  public void policyChanged() {
    for (PeerConnection connection : peers.values()) {
      connection.pushFullSync();
    }
    ephemerals.resend(); // grants only: see docs/ephemeral.md
  }

  /**
   * Removes an owner for good: deletes its objects here, refuses its changes from now on, and
   * floods the removal so every node does the same. Completes when this node's objects are gone.
   */
  public java.util.concurrent.CompletableFuture<Integer> removeOwner(String owner) {
    if (owner.equals(config.nodeName())) {
      return java.util.concurrent.CompletableFuture.failedFuture(new IllegalArgumentException(
          "node '%s' cannot remove itself as an owner".formatted(owner)));
    }
    return java.util.concurrent.CompletableFuture.supplyAsync(() -> ownerRemoved(null,
        dev.entanglement.proto.v1.OwnerRemoved.newBuilder().setOwner(owner).setRemovedBy(config.nodeName()).build()), pool);
  }

  @Override
  public void onOwnerRemoved(String peer, dev.entanglement.proto.v1.OwnerRemoved removed) {
    if (!removed.getOwner().equals(config.nodeName())) {
      pool.execute(() -> ownerRemoved(peer, removed));
    }
  }

  private int ownerRemoved(String from, dev.entanglement.proto.v1.OwnerRemoved removed) {
    String owner = removed.getOwner();
    if (removedOwners.putIfAbsent(owner, removed.getRemovedBy()) != null) {
      return 0; // known already: not passed on again (loops end here)
    }
    routes.remove(owner);
    int count = applier.removeOwner(owner);
    ownership.forgetOwner(owner);
    ephemerals.ownerRemoved(owner);
    LOG.infof("Node '%s' removed owner '%s' (removed by an operator at '%s'): %d objects deleted", config.nodeName(),
        owner, removed.getRemovedBy(), count);
    var envelope = dev.entanglement.proto.v1.Envelope.newBuilder().setOwnerRemoved(removed).build();
    for (PeerConnection connection : peers.values()) {
      if (connection.peerName() != null && !connection.peerName().equals(from)) {
        connection.sendUrgent(envelope);
      }
    }
    return count;
  }

  /** The ephemeral objects of a record type (registered on first use). */
  public <T> dev.entanglement.hibernate.EphemeralObjects<T> ephemeral(Class<T> type, Duration ttl) {
    return ephemerals.register(type, ttl);
  }

  /** Policy denials so far, by "peer|send or receive|reason". */
  public java.util.Map<String, Long> policyDenials() {
    return policy.engine().denials();
  }

  public dev.entanglement.hibernate.internal.transition.Transitions transitions() {
    return transitions;
  }

  /** The transitions' view of the node. */
  private final class TransitionHost implements dev.entanglement.hibernate.internal.transition.Transitions.Host {
    @Override
    public String nodeName() {
      return config.nodeName();
    }

    @Override
    public String ownerOf(dev.entanglement.hibernate.internal.model.EntangledType type, String key) {
      String remote = ownership.remoteOwner(key);
      return remote != null ? remote : config.nodeName();
    }

    @Override
    public Bookkeeping.ObjectRow heldRow(dev.entanglement.hibernate.internal.model.EntangledType type, String idText) {
      try (var session = factory.openStatelessSession()) {
        return session.doReturningWork(c -> bookkeeping.read(c, type.name(), idText));
      }
    }

    @Override
    public void flood(String exceptPeer, dev.entanglement.proto.v1.Envelope envelope) {
      for (PeerConnection connection : peers.values()) {
        if (connection.peerName() != null && !connection.peerName().equals(exceptPeer)
            && policy.sendDenied(connection.peerName(), envelope.getTransition()) == null) {
          connection.sendUrgent(envelope);
        }
      }
    }

    @Override
    public Object load(dev.entanglement.hibernate.internal.model.EntangledType type, Object id) {
      try (var session = factory.openSession()) {
        return session.find(type.persister().getMappedClass(), id);
      }
    }

    @Override
    public java.util.Map<String, Object> decode(dev.entanglement.hibernate.internal.model.EntangledType type, Object id,
        List<dev.entanglement.proto.v1.Attribute> attributes) throws dev.entanglement.hibernate.internal.model.DecodeException {
      try (var session = factory.openStatelessSession()) {
        Object current = session.get(type.persister().getEntityName(), id);
        Object[] state = current == null ? new Object[type.persister().getPropertyNames().length]
            : type.persister().getValues(current);
        type.decode(attributes, state,
            (referenced, referencedId) -> session.get(referenced.persister().getEntityName(), referencedId));
        java.util.Map<String, Object> values = new java.util.LinkedHashMap<>();
        String[] names = type.persister().getPropertyNames();
        for (var attribute : attributes) {
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
    public java.util.concurrent.CompletableFuture<Object> commit(dev.entanglement.hibernate.internal.model.EntangledType type,
        Object id, java.util.function.Consumer<Object> change) {
      return dev.entanglement.hibernate.Entanglement.of(factory).update(
          (Class<Object>) type.persister().getMappedClass(), id, change);
    }
  }

  @Override
  public void captureFailed(String what, Throwable cause) {
    captureFailures.incrementAndGet();
  }

  public long captureFailures() {
    return captureFailures.get();
  }

  public EntangledModel model() {
    return model;
  }

  // ---- PeerHost ----------------------------------------------------------------------------

  @Override
  public int outboxBatchSize() {
    return config.outboxBatchSize();
  }

  @Override
  public int applyWindow() {
    return config.applyWindow();
  }

  @Override
  public java.util.concurrent.Executor pool() {
    return pool;
  }

  @Override
  public Ack apply(String peer, ChangeBatch batch) {
    long started = System.nanoTime();
    Ack ack = applier.apply(peer, batch);
    metrics.applied(batch.getChangesCount(), System.nanoTime() - started);
    if (batch.getPositionsCount() > 0) {
      for (PeerConnection connection : peers.values()) {
        if (!connection.peerName().equals(peer)) {
          connection.positionsMayMove(); // what this node holds of relayed owners moved
        }
      }
    }
    return ack;
  }

  @Override
  public synchronized String register(PeerConnection connection) {
    if (!running) {
      return "node '%s' is shutting down".formatted(config.nodeName());
    }
    String peer = connection.peerName();
    PeerConnection existing = peers.get(peer);
    if (existing != null && existing.state() != PeerConnection.State.CLOSED) {
      // Two streams with one peer: both nodes keep the same one. A newer stream opened the same
      // way replaces the old (which is probably dead); otherwise the stream dialed by the node
      // whose name sorts first wins.
      String node = config.nodeName();
      String first = node.compareTo(peer) < 0 ? node : peer;
      String dialedByNew = connection.dialer() ? node : peer;
      String dialedByOld = existing.dialer() ? node : peer;
      if (!dialedByNew.equals(dialedByOld) && !dialedByNew.equals(first)) {
        return "node '%s' already has a stream with peer '%s' (dialed by '%s', which is kept)"
            .formatted(node, peer, dialedByOld);
      }
      peers.put(peer, connection);
      if (pausedPeers.contains(peer)) {
        connection.pauseFromStart();
      }
      existing.close();
      pool.execute(forwarder::flush);
      pool.execute(() -> ephemerals.connected(connection));
      metrics.peerGone(existing);
      metrics.peerConnected(connection, peerFigures(peer));
      return null;
    }
    peers.put(peer, connection);
    if (pausedPeers.contains(peer)) {
      connection.pauseFromStart();
    }
    pool.execute(forwarder::flush);
    pool.execute(() -> ephemerals.connected(connection));
    metrics.peerConnected(connection, peerFigures(peer));
    return null;
  }

  @Override
  public synchronized void unregister(PeerConnection connection) {
    connections.remove(connection);
    String peer = connection.peerName();
    if (peer != null && peers.remove(peer, connection)) {
      routes.values().removeIf(peer::equals);
      forwarder.peerGone(peer);
      metrics.peerGone(connection);
    }
    if (running && peer != null) {
      // also when a newer stream with the peer replaced this one: what came over this one goes
      pool.execute(() -> ephemerals.disconnected(connection));
    }
  }
}
