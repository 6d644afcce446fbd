package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.hibernate.internal.transport.Dialer;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * The peers of this node: which stream is the one registered for each peer (arbitrating between
 * two streams with the same peer), the dialers, and the pauses an operator asked for. Rooms
 * that care when a peer comes or goes subscribe to its {@link Events}.
 *
 * <h2>Concurrency</h2>
 * {@code peers} is a concurrent map changed only in {@link #register} and {@link #unregister},
 * which synchronize on {@code this}; {@code connections}, {@code dialers} and {@code listeners}
 * are copy-on-write lists; {@code paused} is a concurrent set, {@code parkedAt} a concurrent map
 * (one entry per peer name this node sent changes to). Events are delivered on the
 * registering thread for {@code connected}/{@code replaced}/{@code gone} (they must not block)
 * and on {@code pool} for the rest.
 */
public final class PeerRegistry {
  private static final Logger LOG = Logger.getLogger(PeerRegistry.class);

  /** What other rooms hear about peers. Methods must not block. */
  public interface Events {
    /** A peer's stream was accepted and registered (after its Hello). */
    default void connected(PeerConnection connection) {}

    /** A newer stream with the same peer replaced this registered one. */
    default void replaced(PeerConnection old) {}

    /** The registered stream of a peer ended; the peer is not connected any more. */
    default void gone(PeerConnection connection) {}

    /** A stream that had completed its Hello ended, whether or not it was the registered one. */
    default void streamEnded(PeerConnection connection) {}
  }

  private final String nodeName;
  private final Executor pool;
  private final Map<String, PeerConnection> peers = new ConcurrentHashMap<>();
  private final List<PeerConnection> connections = new CopyOnWriteArrayList<>();
  private final List<Dialer> dialers = new CopyOnWriteArrayList<>();
  private final Set<String> paused = ConcurrentHashMap.newKeySet();
  private final List<Events> listeners = new CopyOnWriteArrayList<>();
  /** What each peer answered as parked (one per peer name that had a stream here). */
  private final Map<String, ParkedAtPeer> parkedAt = new ConcurrentHashMap<>();
  private volatile boolean running = true;

  public PeerRegistry(String nodeName, Executor pool) {
    this.nodeName = nodeName;
    this.pool = pool;
  }

  public void subscribe(Events events) {
    listeners.add(events);
  }

  // ---- streams -------------------------------------------------------------------------------

  /** Told of every new connection (dialed or accepted), so that it can be closed at stop. */
  public void opened(PeerConnection connection) {
    connections.add(connection);
  }

  /**
   * Registers a connection whose Hello was accepted; returns a reason to refuse it (a stream with
   * that peer is already open and kept), or null.
   */
  public synchronized String register(PeerConnection connection) {
    if (!running) {
      return "node '%s' is shutting down".formatted(nodeName);
    }
    String peer = connection.peerName();
    PeerConnection existing = peers.get(peer);
    if (existing != null && existing.state() != PeerConnection.State.CLOSED && existing.browser() != connection.browser()) {
      // a browser never takes a node's place (nor the reverse): the application chose a name in use
      return "node '%s' already has a %s named '%s'; a %s may not use that name".formatted(nodeName,
          existing.browser() ? "browser" : "peer node", peer, connection.browser() ? "browser" : "peer node");
    }
    if (existing != null && existing.state() != PeerConnection.State.CLOSED) {
      // Two streams with one peer: both nodes keep the same one. A newer stream opened the same
      // way replaces the old (which is probably dead); otherwise the stream dialed by the node
      // whose name sorts first wins.
      String first = nodeName.compareTo(peer) < 0 ? nodeName : peer;
      String dialedByNew = connection.dialer() ? nodeName : peer;
      String dialedByOld = existing.dialer() ? nodeName : peer;
      if (!dialedByNew.equals(dialedByOld) && !dialedByNew.equals(first)) {
        return "node '%s' already has a stream with peer '%s' (dialed by '%s', which is kept)"
            .formatted(nodeName, peer, dialedByOld);
      }
      peers.put(peer, connection);
      startPausedIfAsked(connection);
      existing.replaced("node '%s' replaced this stream with peer '%s' by a newer one (dialed by '%s')"
          .formatted(nodeName, peer, dialedByNew));
      listeners.forEach(l -> l.replaced(existing));
    } else {
      peers.put(peer, connection);
      startPausedIfAsked(connection);
    }
    listeners.forEach(l -> l.connected(connection));
    return null;
  }

  private void startPausedIfAsked(PeerConnection connection) {
    if (paused.contains(connection.peerName())) {
      connection.pauseFromStart();
    }
  }

  /** Called once when a connection has ended, whatever ended it. */
  public synchronized void unregister(PeerConnection connection) {
    connections.remove(connection);
    String peer = connection.peerName();
    if (peer != null && peers.remove(peer, connection)) {
      listeners.forEach(l -> l.gone(connection));
      if (connection.browser()) {
        parkedAt.remove(peer); // browsers come and go under names of their own: nothing is kept per name
      }
    }
    if (running && peer != null) {
      // also when a newer stream with the peer replaced this one: what came over this one goes
      pool.execute(() -> listeners.forEach(l -> l.streamEnded(connection)));
    }
  }

  // ---- lookups -------------------------------------------------------------------------------

  /** The registered stream of a peer, or null. */
  public PeerConnection get(String peer) {
    return peer == null ? null : peers.get(peer);
  }

  public Optional<PeerConnection> connection(String peer) {
    return Optional.ofNullable(get(peer));
  }

  public boolean isConnected(String peer) {
    return peers.containsKey(peer);
  }

  /** Queues a control message on a peer's registered stream; false if it has none. Never blocks. */
  public boolean sendUrgent(String peer, Envelope envelope) {
    PeerConnection connection = get(peer);
    return connection != null && connection.sendUrgent(envelope);
  }

  /** The registered streams, one per connected peer. */
  public Collection<PeerConnection> connected() {
    return peers.values();
  }

  public Set<String> connectedNames() {
    return Set.copyOf(peers.keySet());
  }

  /** Every connection, handshaking ones included. */
  public List<PeerConnection> all() {
    return List.copyOf(connections);
  }

  /** Every registered stream but the one of {@code except} (null for none). */
  public List<PeerConnection> others(String except) {
    List<PeerConnection> others = new ArrayList<>(peers.size());
    for (PeerConnection connection : peers.values()) {
      if (connection.peerName() != null && !connection.peerName().equals(except)) {
        others.add(connection);
      }
    }
    return others;
  }

  /** What the peer answered as parked, kept across its streams (for {@code caughtUp}). */
  public ParkedAtPeer parkedAt(String peer) {
    return parkedAt.computeIfAbsent(peer, p -> new ParkedAtPeer());
  }

  /** A failed future naming the peer that is not connected and those that are. */
  public <T> CompletableFuture<T> notConnected(String peer) {
    return CompletableFuture.failedFuture(new IllegalArgumentException(
        "node '%s' has no connected peer named '%s'; connected: %s".formatted(nodeName, peer, peers.keySet())));
  }

  // ---- dialing -------------------------------------------------------------------------------

  /** Starts dialing a peer, again with backoff whenever the stream ends, until stopped. */
  public void dial(PeerHost host, String target, Channel channel, ManagedChannel owned,
      ScheduledExecutorService scheduler, Duration initialDelay, Duration maxDelay) {
    if (!running) {
      throw new IllegalStateException("Entanglement node '" + nodeName + "' is not running");
    }
    Dialer dialer = new Dialer(host, target, channel, owned, scheduler, initialDelay, maxDelay, this::opened);
    dialers.add(dialer);
    dialer.start();
  }

  /** The dialers waiting to dial again (no stream open now), for operators. */
  public List<Dialer.Waiting> waitingDialers() {
    return dialers.stream().map(Dialer::waiting).filter(java.util.Objects::nonNull).toList();
  }

  /** The addresses this node dials (as given in entanglement.peers or added). */
  public List<String> dialTargets() {
    return dialers.stream().map(Dialer::target).toList();
  }

  /**
   * Stops dialing a peer (by node name or by the address it was added with) and ends its stream.
   * Returns false if there is no such peer.
   */
  public boolean remove(String nameOrAddress) {
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
      paused.remove(nameOrAddress);
    }
    return found;
  }

  // ---- pauses --------------------------------------------------------------------------------

  /** Pauses the flow with a peer, for this stream and the next ones; false if not connected. */
  public boolean pause(String peer) {
    PeerConnection connection = peers.get(peer);
    if (connection == null) {
      return false;
    }
    paused.add(peer);
    connection.pause().join();
    return true;
  }

  /** Resumes the flow with a paused peer; false if not connected. */
  public boolean resume(String peer) {
    paused.remove(peer);
    PeerConnection connection = peers.get(peer);
    if (connection == null) {
      return false;
    }
    connection.resume().join();
    return true;
  }

  // ---- stop ----------------------------------------------------------------------------------

  /** Refuses new streams, stops the dialers and closes every stream (waiting up to 5 s). */
  public void stop() {
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
      LOG.debugf("Not every peer stream of node '%s' closed in time: %s", nodeName, e);
    }
  }

  /** Waits for the dialers' channels to end. */
  public void awaitDialers(Duration timeout) throws InterruptedException {
    for (Dialer dialer : dialers) {
      dialer.awaitTermination(timeout);
    }
  }
}
