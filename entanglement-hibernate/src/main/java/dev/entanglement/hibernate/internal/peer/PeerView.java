package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.OwnerRemoved;
import dev.entanglement.proto.v1.Route;
import dev.entanglement.proto.v1.Routes;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import dev.entanglement.hibernate.internal.core.LimitedLog;
import org.jboss.logging.Logger;

/**
 * What one peer may be told: the owners it may hear of. A peer never receives a message naming
 * an owner it may not know (a red node or a red user's tab never learns that blue exists, not
 * even as a name, also through a gateway), unless it is given an object of that owner. The owners
 * it may hear of are this node, itself, the owners it was sent objects of on this stream, those
 * its own Hello named (it holds their objects already) and, for a node, those the send policies
 * would let it have objects of (asked without an object, {@code PolicyPoints#ownerShown}: routes
 * for creation requests exist before any object goes) and those it acknowledged positions of on
 * an earlier stream (it was told of them then). {@link #outbound} is the last
 * check of every envelope sent to it; the rooms that build messages keep to the same rules on
 * their own ({@link PositionTracker} for positions, {@link CatchUpPlanner} for markers, the
 * transition flood for origins, the owner directory for routes), so the check drops nothing in a
 * correct node and logs a WARN when it does.
 *
 * <p>Browsers and nodes differ in little: a browser's Hello gets no owners at all (it sends
 * nothing persistent), it is told positions only of owners it was sent objects of on this stream,
 * and routes and update requests never go to it. A node's Hello names the owners the node may
 * name, and its positions those too (so its next Hello still names them and its catch-up stays
 * exact); routes go to it naming only owners and hops it may name.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: {@code shown} is a concurrent set, written on the connection's serial executor and
 * read on any thread (the request path and the owner directory ask {@link #mayName} off it); the
 * rest is immutable.
 *
 * <h2>Bounds</h2>
 * {@code shown} holds owners of entity objects only (not of ephemeral objects), so at most the
 * owners whose objects this node holds; {@code policyShown} at most the owners named to this view.
 * A policy change during the stream is seen by {@code policyShown} at the next stream.
 */
final class PeerView {
  private static final Logger LOG = Logger.getLogger(PeerView.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Once a minute per kind: a node that keeps doing it would flood the log. */
  private static final LimitedLog BUGS = new LimitedLog(LOG);

  private final String peer;
  private final String node;
  private final boolean browser;
  private final Set<String> held;
  private final Set<String> shown = ConcurrentHashMap.newKeySet();
  /** For a node: whether the policies would send it objects of an owner, asked once per owner and stream. */
  private final Predicate<String> policyShows;
  private final Map<String, Boolean> policyShown = new ConcurrentHashMap<>();
  private final byte[] salt = new byte[16];

  private PeerView(String peer, String node, boolean browser, Set<String> held, Predicate<String> policyShows) {
    this.peer = peer;
    this.policyShows = policyShows;
    this.node = node;
    this.browser = browser;
    this.held = Set.copyOf(held);
    RANDOM.nextBytes(salt);
  }

  /**
   * @param held the owners the browser's Hello named (it holds their objects)
   */
  static PeerView browser(String browser, String node, Set<String> held) {
    return new PeerView(browser, node, true, held, owner -> false);
  }

  /**
   * @param known the owners the node's Hello named and those it acknowledged positions of before
   * @param policyShows whether the send policies would let the node have objects of an owner
   */
  static PeerView node(String peer, String node, Set<String> known, Predicate<String> policyShows) {
    return new PeerView(peer, node, false, known, policyShows);
  }

  String peer() {
    return peer;
  }

  boolean isBrowser() {
    return browser;
  }

  /** An entity object of {@code owner} goes to the peer; true when the peer may name it only from now on. Serial. */
  boolean show(String owner) {
    if (shown.contains(owner)) {
      return false;
    }
    boolean before = mayName(owner);
    shown.add(owner);
    return !before;
  }

  /** Whether the browser was sent an entity object of {@code owner} on this stream (positions name only these). */
  boolean shownObjectsOf(String owner) {
    return shown.contains(owner);
  }

  /** Whether a batch to the peer may carry a position of {@code owner}. */
  boolean positionOf(String owner) {
    return browser ? shown.contains(owner) : mayName(owner);
  }

  /** Whether a message to the peer may name {@code owner}. Any thread. */
  boolean mayName(String owner) {
    return owner.equals(node) || owner.equals(peer) || shown.contains(owner) || held.contains(owner)
        || !browser && policyShown.computeIfAbsent(owner, policyShows::test);
  }

  /**
   * A stand-in for a name the browser may not learn, the same for the same name on this stream
   * (so a browser tells two hidden origins apart) and unrelated across streams. It starts with
   * '~', which no node or browser name may hold.
   */
  String pseudonym(String name) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(salt);
      byte[] hash = digest.digest(name.getBytes(StandardCharsets.UTF_8));
      return "~" + HexFormat.of().formatHex(hash, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every Java platform", e);
    }
  }

  /**
   * The envelope as it may go to the peer: unchanged, with what it may not learn taken out, or
   * null when it must not go at all. Serial (the stream's send).
   */
  Envelope outbound(Envelope envelope) {
    return switch (envelope.getBodyCase()) {
      case HELLO -> hello(envelope);
      case CHANGES -> {
        ChangeBatch batch = envelope.getChanges();
        if (batch.getPositionsList().stream().allMatch(p -> positionOf(p.getOwner()))) {
          yield envelope;
        }
        ChangeBatch.Builder kept = batch.toBuilder().clearPositions();
        for (OwnerPosition position : batch.getPositionsList()) {
          if (positionOf(position.getOwner())) {
            kept.addPositions(position);
          }
        }
        yield unexpected(envelope, Envelope.newBuilder().setChanges(kept).build());
      }
      case SYNC_MARKER -> mayName(envelope.getSyncMarker().getOwner()) ? envelope : unexpected(envelope, null);
      // transitions of objects of owners not shown yet: the peer does not hold the object, so it would not show them
      case TRANSITION -> !mayName(envelope.getTransition().getOwner()) ? null
          : browser || mayName(envelope.getTransition().getOrigin()) ? envelope : unexpected(envelope, null);
      case OWNER_REMOVED -> {
        OwnerRemoved removed = envelope.getOwnerRemoved();
        if (!mayName(removed.getOwner())) {
          yield null; // it holds nothing of that owner
        }
        yield mayName(removed.getRemovedBy()) ? envelope
            : Envelope.newBuilder().setOwnerRemoved(removed.toBuilder().clearRemovedBy()).build();
      }
      case ROUTES -> browser ? unexpected(envelope, null) : routes(envelope);
      // node business: no one routes requests to a browser
      case UPDATE_REQUEST -> browser ? unexpected(envelope, null) : envelope;
      default -> envelope;
    };
  }

  private Envelope hello(Envelope envelope) {
    if (envelope.getHello().getOwnersCount() == 0) {
      return envelope;
    }
    if (browser) {
      return Envelope.newBuilder().setHello(envelope.getHello().toBuilder().clearOwners()).build();
    }
    List<OwnerPosition> kept = envelope.getHello().getOwnersList().stream().filter(p -> mayName(p.getOwner())).toList();
    return kept.size() == envelope.getHello().getOwnersCount() ? envelope
        : Envelope.newBuilder().setHello(envelope.getHello().toBuilder().clearOwners().addAllOwners(kept)).build();
  }

  /** A route goes only if the peer may name its owner and every hop (the owner directory keeps to it). */
  private Envelope routes(Envelope envelope) {
    Routes routes = envelope.getRoutes();
    List<Route> kept = routes.getRoutesList().stream()
        .filter(r -> mayName(r.getOwner()) && r.getPathList().stream().allMatch(this::mayName)).toList();
    if (kept.size() == routes.getRoutesCount()) {
      return envelope;
    }
    return unexpected(envelope, kept.isEmpty() && !routes.getFull() ? null
        : Envelope.newBuilder().setRoutes(routes.toBuilder().clearRoutes().addAllRoutes(kept)).build());
  }

  private Envelope unexpected(Envelope envelope, Envelope instead) {
    String kind = InboundDispatcher.kind(envelope);
    BUGS.warn(kind, "Node '%s' was about to tell %s '%s' of an owner it may not know, in a %s; %s (a bug: "
        .formatted(node, browser ? "browser" : "peer", peer, kind, instead == null ? "not sent" : "taken out")
        + "please report it)");
    return instead;
  }
}
