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
   * Completes when every change this node committed so far has been answered by the peer
   * (applied, already current, or rejected), i.e. nothing is waiting to be sent or in flight.
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
}
