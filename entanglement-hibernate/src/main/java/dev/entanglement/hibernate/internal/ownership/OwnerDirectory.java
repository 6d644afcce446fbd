package dev.entanglement.hibernate.internal.ownership;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.core.NodeNames;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import dev.entanglement.hibernate.internal.peer.PeerRegistry;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Route;
import dev.entanglement.proto.v1.Routes;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;
import org.jboss.logging.Logger;

/**
 * The owner directory: which neighbour leads to each owner, learned from announcements (path
 * vector), not from recently seen data, so routes survive quiet owners and flapping links.
 *
 * <p>Every node announces to each neighbour, right after the Hellos, the owners it can reach
 * with their paths (itself first; itself alone always, even with no data), and then each change
 * of its best path to an owner (a link up or down, a neighbour's announcement). A receiver drops
 * paths holding its own name (no loops), keeps per neighbour the latest set, and routes to each
 * owner over the shortest path (ties: the neighbour whose name sorts first; a directly connected
 * owner is always its own route; see {@link RouteTable}). When a link drops, what was learned over
 * it goes at once and withdrawals or alternatives are announced.
 *
 * <p>What is announced: nothing to a peer the policies let receive nothing from this node
 * ({@code sendToPeer}, asked at each announcement), and never a path through the peer it is
 * announced to (split horizon, on top of the receiver's loop check). Finer, per-owner hiding of
 * this metadata (red must not even learn that blue exists) is issue 17.
 *
 * <p>Bounds against a broken or hostile peer: at most {@link #MAX_HOPS} names per path and
 * {@link #MAX_OWNERS_PER_PEER} owners per neighbour; a path that does not start with the peer that
 * sent it, does not end with its owner, repeats a name or holds an invalid one is refused. Refused
 * routes are ignored (the rest of the message counts) and logged through a {@link LimitedLog}
 * naming the peer and the value; the stream goes on. Withdrawals are remembered (when, and via
 * whom, for {@link #whyNoRoute}) for at most {@link #MAX_REMEMBERED} owners, the oldest forgotten.
 *
 * <h2>Concurrency</h2>
 * Everything mutable ({@code table}, {@code announced}, {@code withdrawn}, {@code outgoing}) is
 * guarded by {@code lock}, held only for decisions, never while a stream is called. Announcements
 * are queued under it in the order they were decided and handed to the streams after it is
 * released, by one thread at a time ({@code draining}, taken with {@code tryLock} only, so nobody
 * waits for it). Link events arrive on the registry's thread and on the peers' serial executors,
 * received announcements on the sender's serial executor. The listener is called outside the lock.
 */
public final class OwnerDirectory implements PeerRegistry.Events {
  private static final Logger LOG = Logger.getLogger(OwnerDirectory.class);
  /** Longest path accepted or announced, in node names. */
  public static final int MAX_HOPS = 64;
  /** Most owners kept from one neighbour. */
  public static final int MAX_OWNERS_PER_PEER = 100_000;
  /** Most owners whose last withdrawal is remembered for {@link #whyNoRoute}. */
  static final int MAX_REMEMBERED = 100_000;
  /** Most routes per message (a full table of many owners goes in several). */
  static final int ROUTES_PER_MESSAGE = 500;

  /** What the directory needs from the node. */
  public interface Host {
    /** Whether the policies let the peer receive anything from this node at all. */
    boolean mayAnnounceTo(String peer);

    /**
     * Whether a message to the peer may name {@code name} (issue 17: a route to an owner the
     * policies hide from the peer would tell it the owner exists).
     */
    default boolean mayName(String peer, String name) {
      return true;
    }

    /** Queues a control message on the peer's open stream; false if there is none. Never blocks. */
    boolean send(String peer, Envelope envelope);

    /** Whether the peer has a registered stream now. */
    boolean isConnected(String peer);
  }

  /** Told when routes to owners appeared or changed (requests waiting for them may leave). Must not block. */
  public interface Listener {
    void routesAppeared(Set<String> owners);
  }

  private record Withdrawal(String via, Instant at) {}

  private record Outgoing(String peer, Envelope envelope) {}

  private final String nodeName;
  private final Host host;
  private final Clock clock;
  private final Listener listener;
  private final LimitedLog refusals = new LimitedLog(LOG);
  private final Object lock = new Object();
  @GuardedBy("lock")
  private final RouteTable table;
  /** Open neighbour -> owner -> the path last announced to it (absent: not announced). */
  @GuardedBy("lock")
  private final Map<String, Map<String, List<String>>> announced = new HashMap<>();
  /**
   * Announcements decided but not yet handed to the streams, in order. Bounded by what one change
   * of the table produces (at most one message per {@link #ROUTES_PER_MESSAGE} owners per open
   * neighbour): the thread that queued them drains them right after ({@link #flushOutgoing}).
   */
  @GuardedBy("lock")
  private final ArrayDeque<Outgoing> outgoing = new ArrayDeque<>();
  private final ReentrantLock draining = new ReentrantLock();
  /** Owner -> its last withdrawal, oldest first. */
  @GuardedBy("lock")
  private final LinkedHashMap<String, Withdrawal> withdrawn = new LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Withdrawal> eldest) {
      return size() > MAX_REMEMBERED;
    }
  };

  public OwnerDirectory(String nodeName, Host host, Clock clock, Listener listener) {
    this.nodeName = nodeName;
    this.host = host;
    this.clock = clock;
    this.listener = listener;
    this.table = new RouteTable(nodeName);
  }

  // ---- links ---------------------------------------------------------------------------------

  /**
   * A peer's stream was registered: once it is open, the peer gets the full table. A newer stream
   * replacing one starts over too (the peer sends its full table again).
   */
  @Override
  public void connected(PeerConnection connection) {
    if (connection.browser()) {
      return; // browsers route nothing: they get no routes, and no node hears of them as owners
    }
    String peer = connection.peerName();
    synchronized (lock) {
      announced.remove(peer); // no changes to a stream that has not had the full table yet
    }
    connection.whenOpen(() -> linkUp(peer));
  }

  @Override
  public void gone(PeerConnection connection) {
    if (connection.browser()) {
      return;
    }
    linkDown(connection.peerName());
  }

  /** The link to a neighbour is open: it is the route to itself, and gets the full table. */
  public void linkUp(String peer) {
    Set<String> appeared;
    synchronized (lock) {
      if (!host.isConnected(peer)) {
        return; // ended meanwhile: its gone event comes (or came) on its own
      }
      Map<String, List<String>> before = new HashMap<>(table.linkUp(peer));
      announced.put(peer, new HashMap<>());
      sendFull(peer);
      appeared = settle(before);
    }
    tell(appeared);
  }

  /** The link to a neighbour dropped: routes over it go, withdrawals and alternatives are announced. */
  public void linkDown(String peer) {
    synchronized (lock) {
      announced.remove(peer);
      settle(new HashMap<>(table.linkDown(peer)));
    }
    flushOutgoing();
  }

  // ---- announcements received ----------------------------------------------------------------

  /** A neighbour's announcement. Never blocks; refuses what is malformed route by route. */
  public void received(String peer, Routes routes) {
    Set<String> appeared;
    synchronized (lock) {
      if (!table.isUp(peer)) {
        LOG.debugf("Node '%s' ignores routes from peer '%s', whose link is not open", nodeName, peer);
        return;
      }
      Map<String, List<String>> before = new HashMap<>();
      if (routes.getFull()) {
        keepFirst(before, table.forgetLearned(peer));
      }
      int overCap = 0;
      String firstOverCap = null;
      for (Route route : routes.getRoutesList()) {
        String owner = route.getOwner();
        List<String> path = route.getPathList();
        String problem = problem(peer, owner, path);
        if (problem != null) {
          refusals.warn(peer + "|route", "Node '%s' ignored a route from peer '%s': %s".formatted(nodeName, peer, problem));
          continue;
        }
        if (path.isEmpty() || path.contains(nodeName)) {
          keepFirst(before, table.learn(peer, owner, null)); // withdrawn, or a loop through this node
          continue;
        }
        if (!table.announced(peer, owner) && table.learnedFrom(peer) >= MAX_OWNERS_PER_PEER) {
          overCap++;
          firstOverCap = firstOverCap == null ? owner : firstOverCap;
          continue;
        }
        keepFirst(before, table.learn(peer, owner, path));
      }
      if (overCap > 0) {
        refusals.warn(peer + "|owners", ("Node '%s' ignored %d routes from peer '%s' (the first for owner %s): it "
            + "announced more than %d owners").formatted(nodeName, overCap, peer, shown(firstOverCap), MAX_OWNERS_PER_PEER));
      }
      appeared = settle(before);
    }
    tell(appeared);
  }

  /** Why a route is refused, or null. */
  private static String problem(String peer, String owner, List<String> path) {
    if (!NodeNames.valid(owner)) {
      return "the owner name %s is not a node name (%s)".formatted(shown(owner), NodeNames.RULE);
    }
    if (path.isEmpty()) {
      return null;
    }
    if (path.size() > MAX_HOPS) {
      return "the path to owner '%s' has %d names; at most %d are accepted".formatted(owner, path.size(), MAX_HOPS);
    }
    if (!path.get(0).equals(peer)) {
      return "the path to owner '%s' starts with %s; a peer's paths must start with its own name"
          .formatted(owner, shown(path.get(0)));
    }
    if (!path.get(path.size() - 1).equals(owner)) {
      return "the path to owner '%s' ends with %s; it must end with the owner".formatted(owner, shown(path.get(path.size() - 1)));
    }
    Set<String> seen = new HashSet<>();
    for (String name : path) {
      if (!NodeNames.valid(name)) {
        return "the path to owner '%s' holds %s, which is not a node name (%s)".formatted(owner, shown(name), NodeNames.RULE);
      }
      if (!seen.add(name)) {
        return "the path to owner '%s' holds '%s' twice".formatted(owner, name);
      }
    }
    return null;
  }

  private static String shown(String value) {
    String cut = value.length() > 64 ? value.substring(0, 64) + "... (" + value.length() + " characters)" : value;
    return "'" + cut.replaceAll("\\p{Cntrl}", "?") + "'";
  }

  private static void keepFirst(Map<String, List<String>> before, Map<String, List<String>> changed) {
    changed.forEach(before::putIfAbsent);
  }

  // ---- deciding and announcing ---------------------------------------------------------------

  /**
   * After the table changed: remembers withdrawals, announces what changed to every open
   * neighbour, and returns the owners whose route appeared or changed.
   */
  @GuardedBy("lock")
  private Set<String> settle(Map<String, List<String>> before) {
    Set<String> changed = new HashSet<>();
    Set<String> appeared = new HashSet<>();
    for (Map.Entry<String, List<String>> entry : before.entrySet()) {
      String owner = entry.getKey();
      List<String> now = table.best(owner);
      List<String> was = entry.getValue();
      if (Objects.equals(now, was)) {
        continue;
      }
      changed.add(owner);
      if (now == null) {
        withdrawn.remove(owner); // re-inserted as the newest
        withdrawn.put(owner, new Withdrawal(was.get(0), clock.instant()));
      } else {
        appeared.add(owner);
      }
    }
    if (!changed.isEmpty()) {
      LOG.debugf("Node '%s': routes to %d owners changed, %d of them withdrawn (e.g. '%s' now %s)", nodeName,
          changed.size(), changed.size() - appeared.size(), changed.iterator().next(), table.best(changed.iterator().next()));
      for (String peer : List.copyOf(announced.keySet())) {
        sendChanges(peer, changed);
      }
    }
    return appeared;
  }

  @GuardedBy("lock")
  private void sendFull(String peer) {
    Map<String, List<String>> sent = announced.get(peer);
    if (!host.mayAnnounceTo(peer)) {
      LOG.debugf("Node '%s' announces no routes to peer '%s': its policies send it nothing", nodeName, peer);
      return;
    }
    List<Route> routes = new ArrayList<>();
    Set<String> owners = table.owners();
    owners.add(nodeName);
    for (String owner : owners) {
      List<String> path = visible(peer, owner, table.offer(peer, owner, MAX_HOPS));
      if (path != null) {
        routes.add(route(owner, path));
        sent.put(owner, path);
      }
    }
    send(peer, true, routes);
  }

  @GuardedBy("lock")
  private void sendChanges(String peer, Set<String> owners) {
    if (!host.mayAnnounceTo(peer)) {
      return;
    }
    Map<String, List<String>> sent = announced.get(peer);
    List<Route> routes = new ArrayList<>();
    for (String owner : new TreeSet<>(owners)) {
      List<String> path = visible(peer, owner, table.offer(peer, owner, MAX_HOPS));
      if (Objects.equals(path, sent.get(owner))) {
        continue;
      }
      if (path == null) {
        sent.remove(owner);
        routes.add(Route.newBuilder().setOwner(owner).build()); // withdrawn
      } else {
        sent.put(owner, path);
        routes.add(route(owner, path));
      }
    }
    if (!routes.isEmpty()) {
      send(peer, false, routes);
    }
  }

  /**
   * The path as it may be announced to the peer: only if the peer may name the owner and every
   * hop; otherwise null (not announced, or withdrawn if it was). Announced once the peer may name
   * them ({@link #nameable}), so every object a peer holds has a request path.
   */
  private List<String> visible(String peer, String owner, List<String> path) {
    if (path == null || !host.mayName(peer, owner)) {
      return null;
    }
    for (String hop : path) {
      if (!host.mayName(peer, hop)) {
        return null;
      }
    }
    return path;
  }

  /** Peer {@code peer} may name {@code owner} from now on: it hears of routes to the owner (if any). Never blocks. */
  public void nameable(String peer, String owner) {
    synchronized (lock) {
      if (!announced.containsKey(peer)) {
        return; // it gets the full table when its link opens
      }
      Set<String> owners = new HashSet<>(table.owners());
      owners.add(nodeName);
      sendChanges(peer, owners); // the owner, and owners reached through it
    }
    flushOutgoing();
  }

  private static Route route(String owner, List<String> path) {
    return Route.newBuilder().setOwner(owner).addAllPath(path).build();
  }

  /** Queued in messages of at most {@link #ROUTES_PER_MESSAGE} routes; only the first says full. */
  @GuardedBy("lock")
  private void send(String peer, boolean full, List<Route> routes) {
    int from = 0;
    do {
      int to = Math.min(routes.size(), from + ROUTES_PER_MESSAGE);
      Routes message = Routes.newBuilder().setFull(full && from == 0).addAllRoutes(routes.subList(from, to)).build();
      outgoing.add(new Outgoing(peer, Envelope.newBuilder().setRoutes(message).build()));
      from = to;
    } while (from < routes.size());
  }

  /**
   * Hands the queued announcements to the peers' streams, in the order they were decided, outside
   * {@code lock}: one thread at a time drains, the others leave what they queued to it (a stream
   * may run its sending inline, and must never wait for this lock). A message to a stream that has
   * ended is dropped: its gone event clears what was announced to it.
   */
  private void flushOutgoing() {
    do {
      if (!draining.tryLock()) {
        return; // the thread that holds it sends what was queued, and looks again after
      }
      try {
        Outgoing next;
        while ((next = nextOutgoing()) != null) {
          host.send(next.peer(), next.envelope());
        }
      } finally {
        draining.unlock();
      }
    } while (hasOutgoing());
  }

  private Outgoing nextOutgoing() {
    synchronized (lock) {
      return outgoing.poll();
    }
  }

  private boolean hasOutgoing() {
    synchronized (lock) {
      return !outgoing.isEmpty();
    }
  }

  private void tell(Set<String> appeared) {
    flushOutgoing();
    if (!appeared.isEmpty()) {
      listener.routesAppeared(appeared);
    }
  }

  // ---- queries -------------------------------------------------------------------------------

  /** The connected peer to send a request for an owner to, or null when there is no route. */
  public String routeTo(String owner) {
    if (host.isConnected(owner)) {
      return owner;
    }
    String via;
    synchronized (lock) {
      List<String> path = table.best(owner);
      via = path == null ? null : path.get(0);
    }
    return via != null && host.isConnected(via) ? via : null;
  }

  /** The best path to an owner (the next hop first, the owner last), or an empty list. */
  public List<String> pathTo(String owner) {
    synchronized (lock) {
      List<String> path = table.best(owner);
      return path == null ? List.of() : path;
    }
  }

  /** Every owner with a route, and its path (the next hop first), sorted by owner. */
  public Map<String, List<String>> routes() {
    synchronized (lock) {
      Map<String, List<String>> routes = new TreeMap<>();
      for (String owner : table.owners()) {
        routes.put(owner, table.best(owner));
      }
      return routes;
    }
  }

  /**
   * Why there is no route to an owner, for error messages: never heard of, or reachable until a
   * withdrawal (when, and via whom); null when there is a route now.
   */
  public String whyNoRoute(String owner) {
    if (routeTo(owner) != null) {
      return null;
    }
    synchronized (lock) {
      Withdrawal last = withdrawn.get(owner);
      if (last == null) {
        return "node '%s' has never heard of owner '%s'".formatted(nodeName, owner);
      }
      return "owner '%s' was last reachable via peer '%s' until %s; no link leads to it now"
          .formatted(owner, last.via(), last.at());
    }
  }

  /** Forgets the last withdrawal of an owner an operator removed. */
  public void forget(String owner) {
    synchronized (lock) {
      withdrawn.remove(owner);
    }
  }
}
