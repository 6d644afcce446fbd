package dev.entanglement.hibernate;

/**
 * The names of Entanglement's settings, given as properties in {@code persistence.xml} (or in
 * the map passed to {@code Persistence.createEntityManagerFactory}). A persistence unit without
 * {@link #NODE_NAME} is left alone. Every value is checked when the SessionFactory is built; a
 * bad value fails the build with a message naming the setting.
 */
public final class EntanglementSettings {
  private EntanglementSettings() {}

  /**
   * This node's name, unique among the nodes it replicates with: 1 to 64 letters, digits, '.',
   * '_' or '-'. Setting it enables the plugin for the persistence unit. No default.
   */
  public static final String NODE_NAME = "entanglement.node.name";

  /** Switches the plugin off even when {@link #NODE_NAME} is set. Defaults to {@code true}. */
  public static final String ENABLED = "entanglement.enabled";

  /**
   * Where to accept peers: {@code host:port} (port 0 picks a free port) for gRPC over TCP, or
   * {@code inprocess:NAME} for gRPC's in-process transport (tests, one-JVM demos). Defaults to
   * none: the node only dials out, or the application binds
   * {@link Entanglement#replicationService()} into its own gRPC server.
   */
  public static final String LISTEN = "entanglement.listen";

  /**
   * Peers to dial, comma separated: {@code host:port} or {@code inprocess:NAME}. A peer that
   * cannot be reached is dialed again with exponential backoff. Defaults to none.
   */
  public static final String PEERS = "entanglement.peers";

  /**
   * Allows unencrypted, unauthenticated TCP connections. TCP needs mutual TLS otherwise; this
   * must be set to {@code true} explicitly for loopback tests and demos, and cannot be combined
   * with the TLS settings. In-process connections need no TLS. Defaults to {@code false}.
   */
  public static final String PLAINTEXT = "entanglement.transport.plaintext";

  /**
   * PEM file with this node's certificate chain (mutual TLS), leaf first. Its subject CN (or a
   * DNS name) must be the node's name: peers check that the name in the Hello is the
   * certificate's. The node's identity is this certificate's SHA-256 fingerprint.
   */
  public static final String TLS_CERTIFICATE = "entanglement.tls.certificate";

  /** PEM file with this node's private key, PKCS#8 ({@code -----BEGIN PRIVATE KEY-----}). */
  public static final String TLS_PRIVATE_KEY = "entanglement.tls.private_key";

  /** PEM file with the certificates of the CAs whose node certificates this node trusts. */
  public static final String TLS_TRUST = "entanglement.tls.trust";

  /**
   * SHA-256 fingerprints of peer certificates this node trusts whoever signed them, comma
   * separated, 64 hex digits each (colons allowed). With {@link #TLS_TRUST}, a peer is trusted if
   * either accepts it.
   */
  public static final String TLS_TRUSTED_FINGERPRINTS = "entanglement.tls.trusted_fingerprints";

  /**
   * Signed state: {@code required} (the default when mutual TLS is configured) or {@code off} (the
   * default without it: plaintext and in-process nodes have no key). With {@code required} this
   * node signs every change it owns with its TLS private key, sends its certificate in its Hello,
   * verifies every received change against its owner's certificate before applying it, and
   * accepts only peers that sign too (a peer that does not is refused at the Hello, naming this
   * setting). See docs/security.md, "Signed state".
   */
  public static final String SIGNING = "entanglement.signing";

  /**
   * Whether the plugin applies the migrations of its own tables (Flyway, history table
   * {@code entanglement_schema_history}) when it starts. Set {@code false} to run them with the
   * application's own Flyway from {@code classpath:entanglement/db/migration}; the plugin
   * then checks at start that its tables exist. Defaults to {@code true}.
   */
  public static final String SCHEMA_MIGRATE = "entanglement.schema.migrate";

  /**
   * Most changes waiting in one peer's outbox (after coalescing), 1 to 10000000. A peer that does
   * not keep up past it has its stream closed with {@code RESOURCE_EXHAUSTED}; after reconnecting
   * it catches up from the database, read in chunks as it drains, so a stalled peer costs at most
   * this much memory. Defaults to {@code 100000}.
   */
  public static final String OUTBOX_MAX_ENTRIES = "entanglement.outbox.max_entries";

  /**
   * The largest message a peer may send, in bytes, 65536 to 1073741824. A larger one is refused
   * while it arrives (not buffered whole) and its stream ends with {@code RESOURCE_EXHAUSTED}
   * naming this setting; a message over twice the limit is refused by gRPC from its length
   * prefix. This node also keeps its own batches under it, so set the same value on every node.
   * A single object larger than the limit cannot be replicated. Defaults to {@code 16777216} (16 MiB).
   */
  public static final String PEER_MAX_MESSAGE_BYTES = "entanglement.peer.max_message_bytes";

  /**
   * How long, in milliseconds, a stream may make no progress (nothing sent and nothing
   * acknowledged) while this node has changes waiting for the peer, 10 to 86400000. Past it the
   * stream ends with {@code UNAVAILABLE} naming this setting and the peer catches up from the
   * database after reconnecting: a peer that sends heartbeats but never reads is not kept for
   * ever. Keep it above the peers' {@link #APPLY_RETRY_MS}, which may hold acknowledgements while
   * their database fails transiently. Defaults to {@code 60000}.
   */
  public static final String PEER_STALL_TIMEOUT_MS = "entanglement.peer.stall_timeout_ms";

  /** Most changes sent in one message to a peer, 1 to 10000. Defaults to {@code 256}. */
  public static final String OUTBOX_BATCH_SIZE = "entanglement.outbox.batch_size";

  /**
   * Most received messages a node holds for applying at once per peer, 1 to 1024; the peer's
   * sending is paced by gRPC flow control beyond that. Defaults to {@code 4}.
   */
  public static final String APPLY_WINDOW = "entanglement.apply.window";

  /**
   * How long, in milliseconds, a node keeps trying a received batch while its database fails
   * transiently (a busy connection pool, a lost connection, a deadlock, a timeout), 0 to
   * 3600000; past it the stream ends and the peer sends the batch again after reconnecting.
   * Such failures are never answered as rejections. Defaults to {@code 30000}.
   */
  public static final String APPLY_RETRY_MS = "entanglement.apply.retry_ms";

  /**
   * How many applied changes wait at most for this node's {@link ChangeListener}s, 1 to 1000000.
   * When they are behind by that many, applying waits for them (the peers are held back by flow
   * control); no event is dropped. Defaults to {@code 10000}. See docs/listeners.md.
   */
  public static final String LISTENER_QUEUE = "entanglement.listeners.queue";

  /**
   * What happens when the plugin cannot write its bookkeeping of a transaction's changes:
   * {@code fail} (the default, as Hibernate Envers does) rolls the application's transaction
   * back with an {@link EntanglementException}, so that nothing is committed that peers would
   * never receive; {@code log} commits it anyway, logs the failure and counts it, and the change
   * is not replicated until the object is written again.
   */
  public static final String CAPTURE_ON_FAILURE = "entanglement.capture.on_failure";

  /** First delay before dialing a peer again, in milliseconds, 1 to 3600000. Defaults to {@code 100}. */
  public static final String RECONNECT_INITIAL_DELAY_MS = "entanglement.reconnect.initial_delay_ms";

  /** Longest delay between dial attempts, in milliseconds, 1 to 3600000. Defaults to {@code 30000}. */
  public static final String RECONNECT_MAX_DELAY_MS = "entanglement.reconnect.max_delay_ms";

  /**
   * Most bytes per second this node sends to each peer, 0 for no limit. Under a limit, changes
   * that wait coalesce into their latest state, so a slow link carries the latest state of
   * every object rather than a backlog of history. Defaults to {@code 0}.
   */
  public static final String BANDWIDTH_LIMIT = "entanglement.bandwidth.bytes_per_second";

  /**
   * How often a node that has sent nothing else sends a heartbeat (and reports progress), in
   * milliseconds, 10 to 3600000. Defaults to {@code 5000}.
   */
  public static final String HEARTBEAT_INTERVAL_MS = "entanglement.heartbeat.interval_ms";

  /**
   * How long a peer may stay silent while this node waits for its messages before the stream is
   * considered dead and dialed again, in milliseconds; more than the heartbeat interval.
   * Defaults to {@code 15000}.
   */
  public static final String HEARTBEAT_TIMEOUT_MS = "entanglement.heartbeat.timeout_ms";

  /**
   * How often the node removes tombstones every known peer has acknowledged, and retries
   * received changes it could not apply, in milliseconds. Defaults to {@code 60000}.
   */
  public static final String COMPACTION_INTERVAL_MS = "entanglement.compaction.interval_ms";

  /**
   * How long a peer may stay away (not connected) before this node retires it: forgets its
   * positions, so that tombstones it has not seen can be compacted. A duration with a unit
   * ({@code 7d}, {@code 12h}, {@code 30m}, {@code 90s}, or ISO-8601 such as {@code P7D}), at
   * least one minute; {@code 0} or {@code never} keeps peers for ever (then one peer gone for good
   * stops compaction). A retired peer that returns gets a full synchronization with a sweep, so
   * it still converges. Measured on the wall clock, this node's own downtime included. Defaults
   * to {@code 7d}.
   */
  public static final String PEER_FORGET_AFTER = "entanglement.peer.forget_after";

  /**
   * How long an update request to another node's object is kept and retried (stored in the
   * database, so across restarts of this node) before it fails: with
   * {@link UpdateRequestException.OwnerUnreachable} if it was never sent (no route to the
   * owner), with {@link UpdateRequestException.OutcomeUnknown} if it was sent and no final answer
   * came. A duration with a unit ({@code 6h}, {@code 30m}, {@code 90s}, {@code 2d}, or ISO-8601
   * such as {@code PT6H}), from one second to 3650 days. Futures complete with the final outcome;
   * to wait less, use {@code orTimeout} on the future: the request carries on and its outcome
   * reaches the {@link RequestListener}s. Defaults to {@code 6h}.
   */
  public static final String REQUEST_LIFETIME = "entanglement.request.lifetime";

  /**
   * Deprecated alias of {@link #REQUEST_LIFETIME} in milliseconds (logged at boot with a warning
   * naming the replacement; setting both fails the boot). It also sets how long a hand-over
   * ({@code transfer}) waits for the new owner, which otherwise is 10 seconds.
   *
   * @deprecated use {@link #REQUEST_LIFETIME}
   */
  @Deprecated
  public static final String REQUEST_TIMEOUT_MS = "entanglement.request.timeout_ms";

  /**
   * How long the member (application instance) holding a node's links may leave its lease
   * unrenewed before another member of the node takes the links over, in milliseconds: after a
   * crash of the holder, failover takes this plus the new holder's start. The holder renews every
   * fifth of it and stops committing entangled entities after 90% of it without a renewal (a
   * stalled process or database), so a renewal thread stalled longer than that fails commits for
   * a while; raise it where such stalls are expected. From 500 to 600,000; defaults to
   * {@code 3000}.
   */
  public static final String NODE_LEASE_TIMEOUT_MS = "entanglement.node.lease_timeout_ms";

  /**
   * How many of the application's pooled connections the plugin's own threads hold at most at
   * the same time: applying received changes, deciding forwarded updates, catch-up reads, the
   * scheduler, admin reads; one of them is kept for the node's lease. Work that finds them all
   * in use waits (up to 5 s, then it is tried again later, as on an empty pool), so the rest of
   * the pool stays the application's. The application's own transactions and {@code update},
   * {@code create} and {@code delete} on the caller's thread are not counted; a holder with
   * followers on PostgreSQL keeps one more, listening for their commits. From 2 to 1000; defaults
   * to {@code 3}.
   */
  public static final String DB_CONNECTIONS = "entanglement.db.connections";

  /**
   * Where the member holding a node's links serves the other members (application instances on
   * the same database), so that transfers, transitions and ephemeral objects work on every
   * member: {@code host:port} (port 0 picks a free port) or {@code inprocess:NAME}. The holder
   * publishes the address, with a secret, in {@code entanglement_lease}; the others find it there.
   * Defaults to {@code 127.0.0.1:0} (members on one host); for members on several hosts, a
   * reachable address, with mutual TLS (the node's certificate) or {@link #PLAINTEXT}.
   */
  public static final String MEMBER_LISTEN = "entanglement.member.listen";

  /**
   * The {@code host:port} the other members dial to reach this member's link when it holds the
   * node's links, where it differs from {@link #MEMBER_LISTEN} (a wildcard or NAT address).
   * Defaults to the address the member link listens on, with the actual port.
   */
  public static final String MEMBER_ADVERTISE = "entanglement.member.advertise";

  /**
   * The most unsettled update requests this node keeps (waiting for a route, sent, or queued
   * behind an earlier request for the same object). Beyond it, a transaction that makes more
   * fails at once (and {@code update}/{@code delete}/{@code create} futures fail) with an
   * {@link EntanglementException} naming this setting. From 1 to 10,000,000; defaults to
   * {@code 100000}.
   */
  public static final String REQUEST_MAX_PENDING = "entanglement.request.max_pending";

  /**
   * Where browsers connect as peers: {@code host:port} (port 0 picks a free port) of a WebSocket
   * endpoint speaking the replication messages, one {@code Envelope} per binary frame (see
   * {@code docs/design/browsers.md}). With mutual TLS configured it serves {@code wss} with this
   * node's certificate; without, plaintext {@code ws}, which needs a loopback address unless
   * {@link #PLAINTEXT} is {@code true}. Who a browser is is decided by {@link #WEB_IDENTITY}.
   * Defaults to none: no browser endpoint.
   */
  public static final String WEB_LISTEN = "entanglement.web.listen";

  /**
   * Who a browser is ({@link dev.entanglement.hibernate.web.BrowserIdentity}): the fully
   * qualified name of a class with a public no-argument constructor, or, in the properties map
   * given in code, an instance. Without it, {@link #WEB_LISTEN} refuses every browser with 403.
   */
  public static final String WEB_IDENTITY = "entanglement.web.identity";

  /**
   * The node's policies ({@link dev.entanglement.hibernate.policy.Policy}): fully qualified class
   * names, comma separated, each with a public no-argument constructor; or, in the properties
   * map given in code, a {@code Policy} instance or a collection of them. Entity types may add
   * their own with {@link dev.entanglement.hibernate.annotations.EntangledPolicy}. Defaults to
   * none: every peer sees and may request everything.
   */
  public static final String POLICY = "entanglement.policy";

  /**
   * Where the admin gRPC service listens ({@code host:port} or {@code inprocess:NAME}), next to
   * gRPC health and server reflection. Needs {@link #ADMIN_TOKEN} (or {@link #ADMIN_TOKEN_FILE})
   * and/or {@link #ADMIN_TRUSTED_FINGERPRINTS}. With mutual TLS configured, the admin server uses
   * this node's certificate; without it, a TCP address must be loopback unless {@link #PLAINTEXT}
   * is {@code true}. Defaults to none: no admin server (the application may bind
   * {@link Entanglement#adminService()} into its own gRPC server).
   */
  public static final String ADMIN_LISTEN = "entanglement.admin.listen";

  /** The bearer token admin calls present ({@code authorization: Bearer <token>}), at least 16 characters. */
  public static final String ADMIN_TOKEN = "entanglement.admin.token";

  /** A file holding the admin bearer token (instead of {@link #ADMIN_TOKEN}). */
  public static final String ADMIN_TOKEN_FILE = "entanglement.admin.token_file";

  /**
   * SHA-256 fingerprints of admin client certificates, comma separated: callers presenting one
   * of these certificates over mutual TLS need no token. Another certificate without the token
   * gets PERMISSION_DENIED.
   */
  public static final String ADMIN_TRUSTED_FINGERPRINTS = "entanglement.admin.trusted_fingerprints";

  /**
   * The Micrometer {@code MeterRegistry} the node's meters go to, as an object in the properties
   * map given in code. Defaults to Micrometer's global registry when Micrometer is on the
   * classpath; without Micrometer the plugin reports no metrics.
   */
  public static final String METRICS_REGISTRY = "entanglement.metrics.registry";

  /**
   * Whether the node opens its servers ({@link #LISTEN}, {@link #ADMIN_LISTEN},
   * {@link #WEB_LISTEN}) and dials {@link #PEERS} as soon as the SessionFactory is built
   * ({@code true}, the default). With {@code false} it does so only when
   * {@link Entanglement#serve()} is called, and {@link Entanglement#stopServing()} closes them
   * again: for a container that starts and stops components after building them (the Spring
   * Boot starter sets it). Capture, the API and the member link work either way.
   */
  public static final String SERVE_AT_BOOT = "entanglement.serve.at_boot";

  /**
   * The {@link CallerTransactions} that finds the application's transaction on the calling
   * thread, as an object in the properties map given in code, so that {@code update()},
   * {@code delete()} and {@code create()} join it instead of opening a transaction of their own
   * (see {@link CallerTransactions}). None by default. The Spring Boot starter sets one for
   * Spring's transactions.
   */
  public static final String CALLER_TRANSACTIONS = "entanglement.caller_transactions";

  /**
   * Whether the node adopts the existing rows of every {@code @Entangled} type each time it starts
   * serving (docs/adoption.md): rows the plugin's bookkeeping does not know (present before the
   * plugin, or inserted behind its back) and this node's rows changed behind its back (bulk HQL or
   * SQL) are announced as this node's own objects, in chunks, in the background. Off by default:
   * claiming rows is a decision (two nodes restored from one backup would both claim the same
   * ids), and a scan of every table at every start costs. An adoption a stop interrupted resumes at
   * the next start whatever this says. {@code true} or {@code false}; defaults to {@code false}.
   */
  public static final String ADOPT_ON_START = "entanglement.adopt.on_start";

  /**
   * How many rows one adoption transaction reads, locks and claims (docs/adoption.md): larger
   * chunks adopt faster; an application transaction writing a row of a chunk waits until the chunk
   * commits. From 1 to 100,000; defaults to {@code 500}.
   */
  public static final String ADOPT_CHUNK_SIZE = "entanglement.adopt.chunk_size";
}
