package dev.entanglement.hibernate.internal.boot;

import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.internal.admin.AdminConfig;
import dev.entanglement.hibernate.internal.apply.InboundApplier;
import dev.entanglement.hibernate.internal.listen.AppliedChanges;
import dev.entanglement.hibernate.internal.core.SerialExecutor;
import dev.entanglement.hibernate.internal.ephemeral.EphemeralStore;
import dev.entanglement.hibernate.internal.metrics.NodeMetrics;
import dev.entanglement.hibernate.internal.store.Adoption;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.ownership.Forwarder;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import dev.entanglement.hibernate.internal.ownership.Handover;
import dev.entanglement.hibernate.internal.ownership.OwnerDirectory;
import dev.entanglement.hibernate.internal.ownership.OwnerRemoval;
import dev.entanglement.hibernate.internal.ownership.Ownership;
import dev.entanglement.hibernate.internal.ownership.RequestExecutor;
import dev.entanglement.hibernate.internal.ownership.Router;
import dev.entanglement.hibernate.internal.peer.PeerRegistry;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.UpdateRequest;
import dev.entanglement.hibernate.internal.signing.HandoverChains;
import dev.entanglement.hibernate.internal.signing.NodeSigner;
import dev.entanglement.hibernate.internal.signing.SignerKeys;
import dev.entanglement.hibernate.internal.policy.PolicyEngine;
import dev.entanglement.hibernate.internal.policy.PolicyPoints;
import dev.entanglement.hibernate.internal.store.AckLedger;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.ConnectionBudget;
import dev.entanglement.hibernate.internal.store.BookkeepingReads;
import dev.entanglement.hibernate.internal.store.CatchUpReader;
import dev.entanglement.hibernate.internal.store.Housekeeper;
import dev.entanglement.hibernate.internal.store.NodeLease;
import dev.entanglement.hibernate.internal.store.StartState;
import dev.entanglement.hibernate.internal.store.RemovedOwners;
import dev.entanglement.hibernate.internal.store.SerialClock;
import dev.entanglement.hibernate.internal.store.SerialShift;
import dev.entanglement.hibernate.internal.transition.Transitions;
import dev.entanglement.hibernate.internal.transport.PeerAddress;
import dev.entanglement.hibernate.internal.transport.Servers;
import dev.entanglement.hibernate.internal.transport.Transports;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.web.BrowserIdentity;
import dev.entanglement.proto.v1.AdminGrpc;
import io.grpc.ManagedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.hibernate.SessionFactory;
import org.hibernate.SessionFactoryObserver;
import org.hibernate.engine.jdbc.connections.spi.ConnectionProvider;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * The composition root of one SessionFactory's node: builds the rooms in order when Hibernate
 * reports the factory ready, wires them, and stops them in reverse order when it closes. It
 * holds no replication state of its own; the adapters beside it (package-private) let each room
 * reach the others through its own small interface.
 *
 * <p>Every instance is a member of its node ({@link NodeLease}); the member holding the lease
 * holds the node's links. A follower builds only what capture and the API need; the rooms that
 * serve peers are built by {@link #startHolding}, at boot or when it takes the links over.
 *
 * <h2>Concurrency</h2>
 * The fields of the follower's part are written once in {@link #sessionFactoryCreated} on the
 * thread that builds the SessionFactory, before any other thread can reach the node. The rooms'
 * fields are written once in {@link #startHolding} (under {@code this}, at boot or on the lease
 * thread) before {@code holding} (volatile) is set; callers check {@link #holding} first, and
 * afterwards they are only read. Stop runs on Hibernate's thread, under {@code this} after the
 * lease thread has ended.
 */
public final class NodeRuntime implements SessionFactoryObserver {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = Logger.getLogger(NodeRuntime.class);
  /** Most worker threads: blocking database work of many peers proceeds side by side (see {@link #pool}). */
  private static final int MAX_WORKERS = 64;
  private static final Map<SessionFactory, NodeRuntime> RUNNING = new ConcurrentHashMap<>();

  final transient EntanglementConfig config;
  final transient List<Policy> nodePolicies = new ArrayList<>();
  transient AdminConfig adminConfig = new AdminConfig(Optional.empty(), null, Set.of());
  transient NodeMetrics metrics = NodeMetrics.NONE;
  /** Who a browser is (entanglement.web.identity), set at boot; null refuses every browser. */
  transient BrowserIdentity browserIdentity;
  final transient AtomicLong captureFailures = new AtomicLong();
  private final transient NodeCaptureSink captureSink = new NodeCaptureSink(this);
  /** Listeners and policies the application registered on this member, for the rooms. */
  final transient MemberRegistrations listeners = new MemberRegistrations(this);

  transient SessionFactoryImplementor factory;
  transient EntangledModel model;
  transient Bookkeeping bookkeeping;
  transient BookkeepingReads reads;
  transient SerialClock clock;
  /** The last serial this node's database held at start (see {@link NodePeerHost#highestPeerMayHold}). */
  transient long serialAtStart;
  /** The peers that said Hello since this node started. */
  final transient java.util.Set<String> greetedSinceStart = java.util.concurrent.ConcurrentHashMap.newKeySet();
  transient SerialShift serialShift;
  transient AckLedger ledger;
  transient Housekeeper housekeeper;
  transient InboundApplier applier;
  /** The second-level cache and the change listeners after an apply (registrations kept per member). */
  transient AppliedChanges appliedChanges;
  transient CatchUpReader catchUpReader;
  final transient Ownership ownership = new Ownership();
  transient Forwarder forwarder;
  transient PendingRequestStore pendingRequests;
  transient RequestExecutor requestExecutor;
  transient Handover handover;
  transient Transitions transitions;
  transient PolicyPoints policy;
  /** Withdrawals sent and applied: logged at DEBUG and counted (docs/design/withdrawal.md). */
  final transient Withdrawals withdrawals = new Withdrawals(this);
  transient EphemeralStore ephemerals;
  transient PeerRegistry peers;
  transient Router router;
  /** Signed state (entanglement.signing=required): this node's signer and the certificates it verifies with; else null. */
  transient NodeSigner signer;
  transient SignerKeys signerKeys;
  transient HandoverChains handoverChains;
  /** This instance's membership of the node, and the lease that gives one member the links. */
  transient NodeLease lease;
  /** The plugin's share of the application's connection pool (entanglement.db.connections). */
  transient ConnectionBudget budget;
  /** Heartbeats, renewals and take-overs on a thread of their own, so that slow housekeeping never delays them. */
  private transient ScheduledExecutorService leaseThread;
  /**
   * Opens and leaves the node's links after a take-over or a lost lease, off the lease thread:
   * building the rooms can take seconds (a large node, a busy machine), and renewals must go on
   * meanwhile, or the lease would be lost to the next member while its new holder starts.
   */
  private transient ExecutorService takeover;
  /** The take-over thread while it runs a task: a stop it causes itself does not wait for it. */
  private transient volatile Thread takeoverRunner;
  /** The futures of update requests this member stored while following. */
  transient MemberRequests memberRequests;
  /** A follower's link to the member holding the links (transfers, transitions, ephemeral objects). */
  transient MemberLinkClient memberLink;
  /** The holder's member link (address, secret) while its publication in the lease row failed. */
  private transient volatile String[] unpublishedLink;
  /** Gives the followers' commits their serials and sends them (the holder only). */
  transient MemberChangeStamper stamper;
  /** Takes the update requests followers stored into this holder's forwarder, as it has room. */
  private void takeOverMemberRequests() {
    if (otherMembers == 0 && !memberRequestsLeft) {
      return;
    }
    try {
      int room = Math.max(0, config.maxPendingRequests() - forwarder.pendingCount());
      List<PendingRequestStore.Row> rows = room == 0 ? List.of() : pendingRequests.takeOverFromMembers(Math.min(room, 1000));
      memberRequestsLeft = rows.size() == Math.min(room, 1000) && room > 0;
      if (!rows.isEmpty()) {
        forwarder.adopt(rows);
      }
    } catch (RuntimeException e) {
      LOG.warnf("Entanglement node '%s' could not take over the update requests other members stored (tried again "
          + "in 200 ms): %s", config.nodeName(), e.getMessage());
    }
  }

  /**
   * Signed state: an update request this node sends as its origin, or for a browser connected to
   * it (its path is just the browser), leaves with this node's signature. Others pass unchanged.
   */
  Envelope signedRequest(Envelope envelope) {
    if (signer == null || !envelope.hasUpdateRequest() || !envelope.getUpdateRequest().getSignature().isEmpty()) {
      return envelope;
    }
    UpdateRequest request = envelope.getUpdateRequest();
    boolean own = request.getOrigin().equals(config.nodeName());
    boolean browsers = request.getViaCount() == 1 && request.getVia(0).equals(request.getOrigin())
        && peers.get(request.getOrigin()) != null && peers.get(request.getOrigin()).browser();
    return own || browsers ? Envelope.newBuilder().setUpdateRequest(signer.sign(request)).build() : envelope;
  }

  /** Signed state: the owners' certificates accepted before a restart, checked again against today's trust. */
  private void loadCertificates() {
    List<byte[]> stored;
    try (var session = factory.openStatelessSession()) {
      session.beginTransaction();
      stored = session.doReturningWork(bookkeeping::certificates);
      session.getTransaction().commit();
    }
    for (byte[] bytes : stored) {
      try {
        var certificate = dev.entanglement.proto.v1.OwnerCertificate.parseFrom(bytes);
        var offered = signerKeys.offer(certificate.getOwner(), certificate.getChainList());
        if (offered.problem() != null) {
          LOG.warnf("Entanglement node '%s' no longer accepts the stored certificate of '%s': %s", config.nodeName(),
              certificate.getOwner(), offered.problem());
        }
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        LOG.debugf("Entanglement node '%s' skips an unreadable stored certificate", config.nodeName());
      }
    }
  }

  /** Signed state: keeps a newly accepted certificate (worker pool; a failure is logged, the certificate stays in memory). */
  private void storeCertificate(SignerKeys.Key key) {
    byte[] bytes = dev.entanglement.proto.v1.OwnerCertificate.newBuilder().setOwner(key.owner())
        .addAllChain(key.chain()).build().toByteArray();
    try (var permit = dev.entanglement.hibernate.internal.store.ConnectionBudget.of(factory).enter();
        var session = factory.openStatelessSession()) {
      session.beginTransaction();
      session.doWork(c -> bookkeeping.writeCertificate(c, key.owner(), bytes));
      session.getTransaction().commit();
    } catch (RuntimeException e) {
      LOG.warnf("Entanglement node '%s' could not store the certificate of '%s' (%s); it is passed on from memory "
          + "until the node restarts", config.nodeName(), key.owner(), e.getMessage());
    }
  }

  /** Signed state: the hand-overs to this node stored with its rows (see {@link HandoverChains}). */
  private void loadHandoverChains() {
    try (var session = factory.openStatelessSession()) {
      session.beginTransaction();
      List<Bookkeeping.SignedHandover> found = session.doReturningWork(c -> bookkeeping.handoversTo(c, config.nodeName()));
      session.getTransaction().commit();
      for (Bookkeeping.SignedHandover handover : found) {
        handoverChains.learned(handover.key(), handover.change());
      }
    }
  }

  /** Whether this member holds the node's links: set once every room is built. */
  private transient volatile boolean holding;
  private transient volatile int otherMembers;
  /** Whether the last take-over of followers' requests was full (more may wait). */
  private transient volatile boolean memberRequestsLeft;
  private transient boolean stopped;
  private final transient java.util.concurrent.atomic.AtomicBoolean stopRequested =
      new java.util.concurrent.atomic.AtomicBoolean();
  transient OwnerDirectory directory;
  transient OwnerRemoval ownerRemoval;
  transient Servers servers;
  /**
   * Whether the node serves peers (servers open, configured peers dialed): from boot unless
   * entanglement.serve.at_boot is false, then between serve() and stopServing(). Guarded by this.
   */
  transient boolean serving = true;
  /** Finds the application's transaction for the API's writes to join (entanglement.caller_transactions); may be null. */
  transient dev.entanglement.hibernate.CallerTransactions callerTransactions;
  transient LocalChanges localChanges;
  /** Adoption of existing rows (docs/adoption.md): while this member holds the links. */
  transient AdoptionRunner adoption;
  private transient boolean adoptOnStart;
  private transient int adoptChunkSize = 500;
  transient NodePeerHost peerHost;
  transient EntanglementNode api;
  /**
   * Decides update requests and hand-overs one at a time, in the order they arrive.
   */
  transient SerialExecutor decisions;
  /**
   * Plugin work (applying batches, reading catch-up, removals, listener calls): each task is
   * handed straight to an idle thread or a new one, as a cached pool does (no queueing delay on
   * the latency path; a queue in front of a fixed set of threads measurably lengthened the
   * commit-to-visible tail), but at most {@link #MAX_WORKERS} threads; past that the submitting
   * thread runs the task itself (caller runs), which pushes back on the stream that drives it.
   * Idle threads end after 60 s.
   */
  transient ThreadPoolExecutor pool;
  transient ScheduledExecutorService scheduler;
  private transient volatile boolean running;

  public NodeRuntime(EntanglementConfig config) {
    this.config = config;
  }

  /** The node of a SessionFactory, if the plugin runs for it. */
  static NodeRuntime of(SessionFactory factory) {
    return RUNNING.get(factory);
  }

  /** Policies given at boot ({@code entanglement.policy}); before the factory is built. */
  public void nodePolicies(List<Policy> policies) {
    nodePolicies.addAll(policies);
  }

  /** Sets where the node's metrics go (set at boot). */
  public void metrics(NodeMetrics metrics) {
    this.metrics = metrics;
  }

  /** Sets the adoption settings read at boot ({@code entanglement.adopt.*}). */
  public void adoptionSettings(boolean onStart, int chunkSize) {
    this.adoptOnStart = onStart;
    this.adoptChunkSize = chunkSize;
  }

  /** Sets the admin settings read at boot. */
  public void adminConfig(AdminConfig admin) {
    this.adminConfig = admin;
  }

  /** The capture path's view of the node (valid once the factory is built). */
  public NodeCaptureSink captureSink() {
    return captureSink;
  }

  public EntangledModel model() {
    return model;
  }

  /** Whether this member serves the node (holding its links or following), until the factory closes. */
  boolean running() {
    return RUNNING.get(factory) == this && !stopRequested.get();
  }

  // ---- start -------------------------------------------------------------------------------

  @Override
  public void sessionFactoryCreated(SessionFactory sessionFactory) {
    factory = (SessionFactoryImplementor) sessionFactory;
    String node = config.nodeName();
    model = EntangledModel.scan(factory);
    if (model.isEmpty()) {
      LOG.infof("Entanglement node '%s': no @Entangled entities in this persistence unit; nothing is captured", node);
    }
    bookkeeping = Bookkeeping.forDialect(factory.getJdbcServices().getDialect());
    ConnectionProvider connections = factory.getServiceRegistry().requireService(ConnectionProvider.class);
    StartState.prepareSchema(connections, config.migrateSchema(), bookkeeping.vendor());
    budget = ConnectionBudget.register(factory, config.dbConnections());
    try {
      // before reading the last serial
      lease = NodeLease.join(connections, budget, node, config.leaseTimeout(), bookkeeping.vendor());
    } catch (RuntimeException e) {
      ConnectionBudget.unregister(factory); // the boot fails: nothing keeps the factory
      throw e;
    }
    reads = new BookkeepingReads(factory, bookkeeping);
    appliedChanges = new AppliedChanges(node, factory, model, config.listenerQueue());
    api = new EntanglementNode(this);
    memberRequests = new MemberRequests(this);
    memberLink = new MemberLinkClient(this);
    leaseThread = Executors.newSingleThreadScheduledExecutor(threads("entanglement-" + node + "-lease"));
    takeover = Executors.newSingleThreadExecutor(threads("entanglement-" + node + "-takeover"));
    long renew = NodeLease.renewInterval(config.leaseTimeout()).toMillis();
    // renewals start before the links open: a slow start must not cost the lease it needs
    leaseThread.scheduleWithFixedDelay(this::leaseTick, renew, renew, TimeUnit.MILLISECONDS);
    if (lease.holding()) {
      startHolding(); // fails the boot when the links cannot be opened (a port in use)
    } else {
      LOG.infof("Entanglement node '%s': this instance (member %s) joins as a follower: %s holds the node's links. Its "
          + "commits are sent by the holder; it takes the links over if the holder stops", node, lease.memberId(),
          lease.holderDescription());
    }
    RUNNING.put(sessionFactory, this);
  }

  /**
   * Every renewal interval, on the lease thread: the member's heartbeat; the holder renews the
   * lease, a follower takes the links over once the lease is free or its holder silent.
   */
  private void leaseTick() {
    try {
      boolean leaseHeld = lease.holding();
      otherMembers = lease.tick(); // renews the lease while this member holds it, also while its links open
      if (leaseHeld) {
        if (holding) {
          publishMemberLink();
        }
        if (lease.lostTo() != null) {
          takeover.execute(this::leaveLinks); // after a start still in progress
          leaseThread.shutdown();
        }
      } else {
        takeIfDue();
        if (!lease.holding()) {
          memberLink.maintain(); // ephemeral objects kept and watched through the holder, also after a failover
        }
      }
    } catch (java.sql.SQLException | RuntimeException e) {
      LOG.warnf("Entanglement node '%s' could not renew its membership (tried again in %d ms): %s", config.nodeName(),
          NodeLease.renewInterval(config.leaseTimeout()).toMillis(), e.getMessage());
    }
  }

  /**
   * A follower's attempt to take the links over, on the lease thread. When the holder is silent
   * but not yet for the whole timeout, the next attempt is scheduled for the moment it will have
   * been (not the next heartbeat, up to a fifth of the timeout later): failover is the timeout plus
   * the new holder's start, not plus a heartbeat interval.
   */
  private void takeIfDue() throws java.sql.SQLException {
    if (lease.lostTo() == null && lease.tryTake()) {
      takeover.execute(this::becomeHolder);
      return;
    }
    long takeable = lease.takeableInMillis();
    if (takeable >= 0 && takeable < NodeLease.renewInterval(config.leaseTimeout()).toMillis()) {
      leaseThread.schedule(this::takeIfDueLogged, takeable + 1, TimeUnit.MILLISECONDS); // the database's ms
    }
  }

  /** On the take-over thread: opens the links of a lease this member just took. */
  private void becomeHolder() {
    takeoverRunner = Thread.currentThread();
    synchronized (this) {
      if (stopped || stopRequested.get() || holding || lease.lostTo() != null) {
        return;
      }
      LOG.infof("Entanglement node '%s': this instance (member %s) takes the node's links over", config.nodeName(),
          lease.memberId());
      try {
        startHolding();
      } catch (RuntimeException e) {
        LOG.errorf(e, "Entanglement node '%s': this instance could not open the node's links; it releases the lease "
            + "so that another member takes them", config.nodeName());
        lease.release();
        leaseThread.shutdown();
      }
    }
  }

  /**
   * On the take-over thread, once the lease is lost (another member serves the node now): this
   * member stops stamping, leaves its peer links, and sends its followers to the new holder.
   * Anything it still tries to stamp fails its fence in the database ({@link NodeLease#fence}).
   */
  private void leaveLinks() {
    takeoverRunner = Thread.currentThread();
    if (!holding) {
      return;
    }
    stamper.stop();
    if (adoption != null) {
      adoption.stop(); // the new holder resumes it from the durable cursor
    }
    pool.execute(peers::stop);
    servers.stopMembers();
  }

  private void takeIfDueLogged() {
    if (holding || stopRequested.get()) {
      return;
    }
    try {
      takeIfDue();
    } catch (java.sql.SQLException | RuntimeException e) {
      LOG.warnf("Entanglement node '%s' could not take the node's links over (tried again in %d ms): %s",
          config.nodeName(), NodeLease.renewInterval(config.leaseTimeout()).toMillis(), e.getMessage());
    }
  }

  /** Whether this member holds the node's links (else it follows: its commits wait for the holder's serials). */
  boolean holding() {
    return holding;
  }

  /** How many other members were alive at the last heartbeat. */
  int otherMembers() {
    return otherMembers;
  }

  /**
   * Opens the node's links: reads the node's state, builds the rooms that serve peers, starts the
   * servers and dialers. At boot when this member took the lease, or later when it takes over.
   */
  private synchronized void startHolding() {
    String node = config.nodeName();
    ConnectionProvider connections = factory.getServiceRegistry().requireService(ConnectionProvider.class);
    StartState start = StartState.read(connections, bookkeeping, node);
    ownership.load(start.ownershipRows(), node);
    if (start.durabilityProblem() != null) {
      LOG.warnf("Entanglement node '%s': %s", node, start.durabilityProblem());
    }
    clock = new SerialClock(start.lastSerial()); // above what the stamper may have offered uncommitted, too
    // what peers may hold: the reservation is not, or a database that lost commits below it would hide the loss
    serialAtStart = start.lastCommittedSerial();
    serialShift = new SerialShift(factory, bookkeeping, node);
    ledger = new AckLedger(factory, bookkeeping, node, start.peerPositions(), start.peersLastSeen(),
        config.wallClock(), config.peerForgetAfter());
    pool = new ThreadPoolExecutor(0, MAX_WORKERS, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
        threads("entanglement-" + node + "-worker"), new ThreadPoolExecutor.CallerRunsPolicy());
    scheduler = Executors.newSingleThreadScheduledExecutor(threads("entanglement-" + node + "-scheduler"));
    decisions = new SerialExecutor(pool);
    peers = new PeerRegistry(node, pool);
    if (config.signing()) {
      signer = new NodeSigner(node, config.tls().privateKey(), config.tls().chain());
      signerKeys = new SignerKeys(node, config.tls()::checkTrusted, config.tls().chain());
      handoverChains = new HandoverChains(node);
      loadHandoverChains();
      loadCertificates();
      signerKeys.onAdded(key -> pool.execute(() -> storeCertificate(key)));
    }
    policy = new PolicyPoints(new PolicyEngine(nodePolicies, model, this::policyPeer), model, factory);
    applier = new InboundApplier(factory, model, bookkeeping, node, config.applyRetry());
    applier.load();
    housekeeper = new Housekeeper(factory, bookkeeping, node, clock, ledger, start.compactedThrough(),
        start.relayedCompactions(), applier::positions, () -> applier.retryParked(1000));
    metrics.changeLog(housekeeper::changeLogSize);
    router = new Router(node, peers, model, applier::objectKey);
    localChanges = new LocalChanges(node, clock, peers, () -> transitions);
    catchUpReader = new CatchUpReader(factory, model, bookkeeping);
    if (config.signing()) {
      catchUpReader.signedState(node);
    }
    OwnershipHosts hosts = new OwnershipHosts(this);
    pendingRequests = new PendingRequestStore(factory);
    forwarder = new Forwarder(hosts.forwarder());
    pendingRequests.takeOverFromMembers(Integer.MAX_VALUE); // the followers' rows are this member's now: loaded next
    forwarder.reload(pendingRequests.loadAll());
    housekeeper.appliedRequests(pendingRequests, config.requestLifetime().multipliedBy(2), config.wallClock());
    requestExecutor = new RequestExecutor(factory, model, bookkeeping, hosts.requestExecutor());
    handover = new Handover(factory, model, bookkeeping, ownership, decisions, hosts.handover());
    handover.takeOverPending(start.ownershipRows());
    transitions = new Transitions(model, new TransitionHost(this), new SerialExecutor(pool));
    ephemerals = new EphemeralStore(new EphemeralHost(this), pool);
    policy.ephemeralTypes(ephemerals::typeNamed);
    policy.ephemeralValues(ephemerals::decoded);
    ownerRemoval = new OwnerRemoval(node, peers, pool, new OwnerRemoval.Forget() {
      @Override
      public int deleteObjects(String owner) {
        return applier.removeOwner(owner);
      }

      @Override
      public void forget(String owner) {
        directory.forget(owner);
        ownership.forgetOwner(owner);
        ephemerals.ownerRemoved(owner);
      }
    }, new RemovedOwners(factory));
    applier.hooks(new ApplyHooks(this));
    peerHost = new NodePeerHost(this);
    directory = new OwnerDirectory(node, new OwnerDirectoryHost(this), config.wallClock(),
        owners -> pool.execute(forwarder::flush)); // waiting requests leave as soon as their route appears
    peers.subscribe(directory);
    peers.subscribe(new PeerEvents(this));
    peers.subscribe(ownerRemoval);
    servers = new Servers(node, config.tls());
    stamper = new MemberChangeStamper(this);
    listeners.attach();
    appliedChanges.start();
    running = true;
    holding = true;
    if (serving) {
      try {
        openServers();
      } catch (RuntimeException e) {
        stop();
        throw e;
      }
    }
    openMemberLink();
    long every = config.compactionInterval().toMillis();
    scheduler.scheduleWithFixedDelay(housekeeper::run, every, every, TimeUnit.MILLISECONDS);
    long flush = config.heartbeatInterval().toMillis();
    scheduler.scheduleWithFixedDelay(ledger::flush, flush, flush, TimeUnit.MILLISECONDS);
    // ephemeral objects whose time to live passed disappear within about 100 ms of it
    scheduler.scheduleWithFixedDelay(() -> {
      try {
        ephemerals.expire();
      } catch (RuntimeException e) {
        LOG.errorf(e, "Could not expire ephemeral objects");
      }
    }, 100, 100, TimeUnit.MILLISECONDS);
    pool.execute(() -> applier.retryParked(Integer.MAX_VALUE));
    // update requests: expiry, resends and routes that appeared, within about 100 ms
    scheduler.scheduleWithFixedDelay(() -> pool.execute(forwarder::tick), 100, 100, TimeUnit.MILLISECONDS);
    // update requests the followers stored: taken over within about 200 ms while followers are alive
    scheduler.scheduleWithFixedDelay(() -> pool.execute(this::takeOverMemberRequests), 200, 200, TimeUnit.MILLISECONDS);
    stamper.start();
    adoption = new AdoptionRunner(this, new Adoption(factory, model, bookkeeping, node), adoptChunkSize);
    try {
      adoption.atStart(adoptOnStart);
    } catch (RuntimeException e) {
      LOG.errorf(e, "Entanglement node '%s' could not read or resume its adoptions (docs/adoption.md); call adopt "
          + "to try again", node);
    }
    LOG.infof("Entanglement node '%s' started (%d replicated entity types, last serial %d)",
        node, model.types().size(), start.lastSerial());
  }

  /** Opens the servers configured and dials the configured peers (at boot, or at {@link #serve()}). */
  private void openServers() {
    config.listen().ifPresent(address -> servers.startReplication(address, peerHost.replicationService()));
    adminConfig.listen().ifPresent(address -> servers.startAdmin(address, api.adminService(),
        AdminGrpc.SERVICE_NAME));
    config.webListen().ifPresent(address -> servers.startWeb(address, peerHost.webServer()));
    for (PeerAddress address : config.peers()) {
      ManagedChannel channel = Transports.channel(address, config.tls());
      peerHost.dial(address.toString(), channel, channel);
    }
  }

  /**
   * Serves peers from now on ({@link dev.entanglement.hibernate.Entanglement#serve()}): opens the
   * servers at once when this member holds the links, else when it takes them over.
   */
  synchronized void serve() {
    if (serving || stopped) {
      return;
    }
    serving = true;
    if (running) {
      try {
        openServers();
      } catch (RuntimeException e) {
        servers.stopServing();
        serving = false;
        throw e;
      }
    }
  }

  /** Closes the servers and every peer's stream until {@link #serve()} (see the API's stopServing). */
  synchronized void stopServing() {
    if (!serving) {
      return;
    }
    serving = false;
    if (running) {
      servers.stopServing();
      for (String target : peers.dialTargets()) {
        peers.remove(target);
      }
      for (String peer : peers.connectedNames()) {
        peers.remove(peer);
      }
      LOG.infof("Entanglement node '%s' stopped serving peers", config.nodeName());
    }
  }

  /**
   * Serves the member link and publishes it in the lease row; what this member did through the
   * link as a follower (ephemeral objects, their listeners) moves to the node's own store.
   */
  private void openMemberLink() {
    String secret = java.util.UUID.randomUUID().toString();
    String address = servers.startMembers(config.memberListen(), new MemberLinkService(this, secret).bindService(),
        config.memberAdvertise());
    unpublishedLink = new String[] {address, secret};
    publishMemberLink();
    if (memberLink != null) {
      memberLink.close("this member took the links over");
      for (FollowerEphemerals<?> proxy : memberLink.ephemeralProxies()) {
        try {
          serveLocally(proxy);
        } catch (RuntimeException e) {
          LOG.errorf(e, "Entanglement node '%s': the ephemeral objects of type %s this member kept as a follower could "
              + "not move to its own store", config.nodeName(), proxy.typeName());
        }
      }
    }
  }

  /** Publishes the member link in the lease row; tried again at every renewal until it is. */
  private void publishMemberLink() {
    String[] link = unpublishedLink;
    if (link == null) {
      return;
    }
    try {
      if (!lease.publishLink(link[0], link[1])) {
        LOG.warnf("Entanglement node '%s': this member lost the lease before it could publish its member link",
            config.nodeName());
      }
      unpublishedLink = null;
    } catch (java.sql.SQLException e) {
      LOG.warnf("Entanglement node '%s': could not publish the member link (%s) in entanglement_lease, tried again at "
          + "the next renewal: %s", config.nodeName(), link[0], e.getMessage());
    }
  }

  private <T> void serveLocally(FollowerEphemerals<T> proxy) {
    proxy.serveLocally(ephemerals.register(proxy.type(), proxy.timeToLive()));
  }

  /** The peer as policies see it. */
  private Peer policyPeer(String name) {
    var connection = peers == null ? null : peers.get(name);
    return new Peer(name, connection == null ? null : connection.fingerprint(), connection != null && connection.browser());
  }

  // ---- stop --------------------------------------------------------------------------------

  @Override
  public void sessionFactoryClosing(SessionFactory sessionFactory) {
    RUNNING.remove(sessionFactory);
    stop();
  }

  private void stop() {
    if (stopRequested.getAndSet(true)) {
      return;
    }
    leaseThread.shutdownNow(); // no take-over starts after this (one in progress ends first)
    takeover.shutdown(); // one queued sees stopRequested and returns
    try {
      leaseThread.awaitTermination(5, TimeUnit.SECONDS);
      if (Thread.currentThread() != takeoverRunner) {
        takeover.awaitTermination(30, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      stopped = true;
      if (running) {
        stopHolding();
      }
    }
    memberRequests.stop();
    memberLink.close("this member stops");
    lease.release();
    ConnectionBudget.unregister(factory);
    LOG.infof("Entanglement node '%s' stopped", config.nodeName());
  }

  private void stopHolding() {
    running = false;
    // first: an apply waiting for room in a full listener queue gives up, so the peers' streams can end
    appliedChanges.stop();
    if (adoption != null) {
      adoption.stop(); // between two chunks: the rest resumes at the next start
    }
    stamper.stop();
    peers.stop();
    servers.shutdown();
    ledger.flush();
    try {
      peers.awaitDialers(Duration.ofSeconds(5));
      servers.awaitTermination();
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
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return task -> {
      Thread thread = new Thread(task, prefix + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
