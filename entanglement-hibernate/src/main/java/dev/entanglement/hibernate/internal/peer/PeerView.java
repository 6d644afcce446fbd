package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.OwnerRemoved;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import dev.entanglement.hibernate.internal.core.LimitedLog;
import org.jboss.logging.Logger;

/**
 * What one browser may be told: the owners it may hear of. A browser never receives a message
 * naming an owner it was never shown (a red user's tab never learns that blue exists, not even as
 * a name), unless it is given an object of that owner. The owners it may hear of are this node,
 * itself, the owners it was sent objects of on this stream, and those its own Hello named (it
 * holds their objects already). {@link #outbound} is the last check of every envelope sent to it;
 * the rooms that build messages keep to the same rules on their own ({@link PositionTracker} for
 * positions, {@link CatchUpPlanner} for markers, the transition flood for origins), so the check
 * drops nothing in a correct node and logs a WARN when it does.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: {@code shown} is a concurrent set, written on the connection's serial executor and
 * read on any thread (the request path asks {@link #mayName} off it); the rest is immutable.
 *
 * <h2>Bounds</h2>
 * {@code shown} holds owners of entity objects only (not of ephemeral objects), so at most the
 * owners whose objects this node holds.
 */
final class PeerView {
  private static final Logger LOG = Logger.getLogger(PeerView.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Once a minute per kind: a node that keeps doing it would flood the log. */
  private static final LimitedLog BUGS = new LimitedLog(LOG);

  private final String browser;
  private final String node;
  private final Set<String> held;
  private final Set<String> shown = ConcurrentHashMap.newKeySet();
  private final byte[] salt = new byte[16];

  /**
   * @param held the owners the browser's Hello named (it holds their objects)
   */
  PeerView(String browser, String node, Set<String> held) {
    this.browser = browser;
    this.node = node;
    this.held = Set.copyOf(held);
    RANDOM.nextBytes(salt);
  }

  String browser() {
    return browser;
  }

  /** An entity object of {@code owner} goes to the browser. Serial. */
  void show(String owner) {
    shown.add(owner);
  }

  /** Whether the browser was sent an entity object of {@code owner} on this stream (positions name only these). */
  boolean shownObjectsOf(String owner) {
    return shown.contains(owner);
  }

  /** Whether a message to the browser may name {@code owner}. Any thread. */
  boolean mayName(String owner) {
    return owner.equals(node) || owner.equals(browser) || shown.contains(owner) || held.contains(owner);
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
   * The envelope as it may go to the browser: unchanged, with what it may not learn taken out, or
   * null when it must not go at all. Serial (the stream's send).
   */
  Envelope outbound(Envelope envelope) {
    return switch (envelope.getBodyCase()) {
      case HELLO -> envelope.getHello().getOwnersCount() == 0 ? envelope
          : Envelope.newBuilder().setHello(envelope.getHello().toBuilder().clearOwners()).build();
      case CHANGES -> {
        ChangeBatch batch = envelope.getChanges();
        if (batch.getPositionsList().stream().allMatch(p -> shownObjectsOf(p.getOwner()))) {
          yield envelope;
        }
        ChangeBatch.Builder kept = batch.toBuilder().clearPositions();
        for (OwnerPosition position : batch.getPositionsList()) {
          if (shownObjectsOf(position.getOwner())) {
            kept.addPositions(position);
          }
        }
        yield unexpected(envelope, Envelope.newBuilder().setChanges(kept).build());
      }
      case SYNC_MARKER -> mayName(envelope.getSyncMarker().getOwner()) ? envelope : unexpected(envelope, null);
      // transitions of objects of owners not shown yet: the browser does not hold the object, so it would not show them
      case TRANSITION -> mayName(envelope.getTransition().getOwner()) ? envelope : null;
      case OWNER_REMOVED -> {
        OwnerRemoved removed = envelope.getOwnerRemoved();
        if (!mayName(removed.getOwner())) {
          yield null; // it holds nothing of that owner
        }
        yield mayName(removed.getRemovedBy()) ? envelope
            : Envelope.newBuilder().setOwnerRemoved(removed.toBuilder().clearRemovedBy()).build();
      }
      // node business: a browser is in no route and no one routes requests to it
      case UPDATE_REQUEST, ROUTES -> unexpected(envelope, null);
      default -> envelope;
    };
  }

  private Envelope unexpected(Envelope envelope, Envelope instead) {
    String kind = InboundDispatcher.kind(envelope);
    BUGS.warn(kind, "Node '%s' was about to tell browser '%s' of an owner it was never shown, in a %s; %s (a bug: "
        .formatted(node, browser, kind, instead == null ? "not sent" : "taken out") + "please report it)");
    return instead;
  }
}
