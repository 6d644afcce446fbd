package dev.entanglement.hibernate.internal.ownership;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Route;
import dev.entanglement.proto.v1.Routes;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The owner directory's choices at node {@code x}, with links and announcements played by hand:
 * shortest paths and their tie-break, loops refused, withdrawal and fallback in a triangle, split
 * horizon, policy, and bounds against a hostile peer.
 */
class OwnerDirectoryTest {
  private static final Instant NOW = Instant.parse("2026-12-05T12:00:00Z");

  /** A node's surroundings: who is connected, who may be told anything, what was sent to whom. */
  private static final class FakeHost implements OwnerDirectory.Host {
    final Set<String> connected = new HashSet<>();
    final Set<String> silenced = new HashSet<>();
    /** Peer -> names it may not hear of (issue 17). */
    final Map<String, Set<String>> hidden = new HashMap<>();
    final Map<String, List<Routes>> sent = new HashMap<>();

    @Override
    public boolean mayAnnounceTo(String peer) {
      return !silenced.contains(peer);
    }

    @Override
    public boolean mayName(String peer, String name) {
      return !hidden.getOrDefault(peer, Set.of()).contains(name);
    }

    @Override
    public boolean send(String peer, Envelope envelope) {
      if (!connected.contains(peer)) {
        return false;
      }
      sent.computeIfAbsent(peer, p -> new ArrayList<>()).add(envelope.getRoutes());
      return true;
    }

    @Override
    public boolean isConnected(String peer) {
      return connected.contains(peer);
    }

    /** What the peer would hold from everything sent to it: owner -> path. */
    Map<String, List<String>> heldBy(String peer) {
      Map<String, List<String>> held = new HashMap<>();
      for (Routes routes : sent.getOrDefault(peer, List.of())) {
        if (routes.getFull()) {
          held.clear();
        }
        for (Route route : routes.getRoutesList()) {
          if (route.getPathCount() == 0) {
            held.remove(route.getOwner());
          } else {
            held.put(route.getOwner(), route.getPathList());
          }
        }
      }
      return held;
    }
  }

  private final FakeHost host = new FakeHost();
  private final List<Set<String>> appeared = new ArrayList<>();
  private final OwnerDirectory x = new OwnerDirectory("x", host, Clock.fixed(NOW, ZoneOffset.UTC), appeared::add);

  private void up(String... peers) {
    for (String peer : peers) {
      host.connected.add(peer);
      x.linkUp(peer);
    }
  }

  private void down(String peer) {
    host.connected.remove(peer);
    x.linkDown(peer);
  }

  private static Route route(String owner, String... path) {
    return Route.newBuilder().setOwner(owner).addAllPath(List.of(path)).build();
  }

  private void announce(String peer, boolean full, Route... routes) {
    x.received(peer, Routes.newBuilder().setFull(full).addAllRoutes(List.of(routes)).build());
  }

  @Test
  void aNewPeerGetsTheFullTable_selfAlwaysAndNeverWhatCameFromIt() {
    up("a");
    assertThat(host.sent.get("a")).hasSize(1);
    assertThat(host.sent.get("a").get(0).getFull()).isTrue();
    assertThat(host.heldBy("a")).containsExactly(Map.entry("x", List.of("x"))); // no data needed
    announce("a", true, route("a", "a"), route("o", "a", "o"));
    up("b");
    assertThat(host.heldBy("b")).containsOnly(Map.entry("x", List.of("x")), Map.entry("a", List.of("x", "a")),
        Map.entry("o", List.of("x", "a", "o")));
    // split horizon: a is never told of routes through itself
    assertThat(host.heldBy("a")).containsOnly(Map.entry("x", List.of("x")), Map.entry("b", List.of("x", "b")));
  }

  @Test
  void shortestPathWins_tiesGoToTheNeighbourNamedFirst_andADirectNeighbourIsItsOwnRoute() {
    up("a", "b");
    announce("a", true, route("o", "a", "p", "o"));
    assertThat(x.routeTo("o")).isEqualTo("a");
    announce("b", true, route("o", "b", "o"), route("a", "b", "q", "a"));
    assertThat(x.routeTo("o")).isEqualTo("b");
    assertThat(x.pathTo("o")).containsExactly("b", "o");
    announce("a", false, route("o", "a", "o"));
    assertThat(x.routeTo("o")).as("equally short: a sorts before b").isEqualTo("a");
    assertThat(x.routeTo("a")).isEqualTo("a");
    assertThat(x.pathTo("a")).containsExactly("a");
    assertThat(appeared).anySatisfy(owners -> assertThat(owners).contains("o"));
  }

  @Test
  void pathsThroughThisNode_areIgnoredAndWithdrawWhatWasThere() {
    up("a");
    announce("a", true, route("o", "a", "o"));
    assertThat(x.routeTo("o")).isEqualTo("a");
    announce("a", false, route("o", "a", "x", "o"));
    assertThat(x.routeTo("o")).isNull();
    announce("a", false, route("p", "a", "x", "b", "p"));
    assertThat(x.routeTo("p")).isNull();
    assertThat(x.whyNoRoute("p")).isEqualTo("node 'x' has never heard of owner 'p'");
  }

  @Test
  void triangle_linkLossFallsBackToTheOtherWay_andWithdrawsWhatNoLongerHolds() {
    // x - a - b - x: each neighbour also reaches the other
    up("a", "b");
    announce("a", true, route("a", "a"), route("b", "a", "b"));
    announce("b", true, route("b", "b"), route("a", "b", "a"));
    assertThat(host.heldBy("b")).containsEntry("a", List.of("x", "a"));

    down("a");
    assertThat(x.routeTo("a")).isEqualTo("b");
    assertThat(x.pathTo("a")).containsExactly("b", "a");
    // the way to a now runs through b: b is no longer told that x leads to a
    assertThat(host.heldBy("b")).doesNotContainKey("a").containsKey("x");

    down("b");
    assertThat(x.routeTo("a")).isNull();
    assertThat(x.routes()).isEmpty();
    assertThat(x.whyNoRoute("a"))
        .isEqualTo("owner 'a' was last reachable via peer 'b' until 2026-12-05T12:00:00Z; no link leads to it now");
    assertThat(x.whyNoRoute("b"))
        .isEqualTo("owner 'b' was last reachable via peer 'b' until 2026-12-05T12:00:00Z; no link leads to it now");
  }

  @Test
  void aFullTableReplacesWhatThePeerSaidBefore_andAnEmptyPathWithdraws() {
    up("a");
    announce("a", true, route("o", "a", "o"), route("p", "a", "p"));
    announce("a", false, route("p"));
    assertThat(x.routes()).containsOnlyKeys("a", "o");
    announce("a", true, route("q", "a", "q"));
    assertThat(x.routes()).containsOnlyKeys("a", "q");
  }

  @Test
  void aPeerThePoliciesSendNothingIsToldNothing() {
    host.silenced.add("a");
    up("a", "b");
    announce("b", true, route("o", "b", "o"));
    assertThat(host.sent.get("a")).isNull();
    assertThat(host.heldBy("b")).containsOnlyKeys("x", "a");
  }

  @Test
  void hostileAnnouncements_areRefusedRouteByRoute_namingThePeerAndTheValue() {
    up("a");
    List<String> tooLong = new ArrayList<>(List.of("a"));
    for (int i = 0; i < 999; i++) {
      tooLong.add("n" + i);
    }
    tooLong.add("far");
    try (LogCapture logs = LogCapture.start()) {
      announce("a", true,
          route("far", tooLong.toArray(String[]::new)),
          route("o", "b", "o"),                 // does not start with the sender
          route("p", "a", "q"),                 // does not end with its owner
          route("bad name", "a", "bad name"),   // not a node name
          route("r", "a", "s", "s", "r"),       // a name twice
          route("fine", "a", "fine"));
      assertThat(x.routes()).containsOnlyKeys("a", "fine");
      assertThat(logs.lines("peer 'a'", "the path to owner 'far' has 1001 names; at most 64 are accepted")).hasSize(1);
      assertThat(logs.lines("peer 'a'", "starts with 'b'")).hasSize(1);
      assertThat(logs.lines("peer 'a'", "ends with 'q'")).hasSize(1);
      assertThat(logs.lines("peer 'a'", "'bad name' is not a node name")).hasSize(1);
      assertThat(logs.lines("peer 'a'", "holds 's' twice")).hasSize(1);
      assertThat(logs.warnings("peer 'a'")).hasSize(1); // the rest at DEBUG (LimitedLog)
    }
  }

  @Test
  void aPeerAnnouncingMoreOwnersThanTheCap_isHeldToIt() {
    up("a");
    Routes.Builder many = Routes.newBuilder().setFull(true);
    for (int i = 0; i <= OwnerDirectory.MAX_OWNERS_PER_PEER; i++) {
      many.addRoutes(route("o" + i, "a", "o" + i));
    }
    try (LogCapture logs = LogCapture.start()) {
      x.received("a", many.build());
      assertThat(x.routes()).hasSize(OwnerDirectory.MAX_OWNERS_PER_PEER + 1); // and a itself
      assertThat(logs.warnings("ignored 1 routes from peer 'a'", "more than 100000 owners")).hasSize(1);
    }
    // changes of owners it has announced still count
    announce("a", false, route("o0"));
    assertThat(x.routeTo("o0")).isNull();
  }

  @Test
  void aLargeTableGoesInChunks_onlyTheFirstSaysFull() {
    up("a");
    Routes.Builder many = Routes.newBuilder().setFull(true);
    for (int i = 0; i < 1200; i++) {
      many.addRoutes(route("o" + i, "a", "o" + i));
    }
    x.received("a", many.build());
    up("b");
    List<Routes> toB = host.sent.get("b");
    assertThat(toB).extracting(Routes::getRoutesCount).containsExactly(500, 500, 202); // x, a and 1200 owners
    assertThat(toB).extracting(Routes::getFull).containsExactly(true, false, false);
    assertThat(host.heldBy("b")).hasSize(1202).containsEntry("o7", List.of("x", "a", "o7"));
  }

  @Test
  void routesFromAPeerWhoseLinkIsNotOpen_areIgnored() {
    host.connected.add("a");
    announce("a", true, route("o", "a", "o"));
    assertThat(x.routes()).isEmpty();
    assertThat(Collections.unmodifiableList(appeared)).isEmpty();
  }

  /**
   * Issue 17: red hears of no route to blue, nor of one through blue; once red may name blue (its
   * first object of blue went to it) the routes it may now see are announced at once.
   */
  @Test
  void aPeerHearsOnlyOfRoutesItMayName_andOfTheRestWhenItMayNameThem() {
    host.hidden.put("red", new HashSet<>(Set.of("blue")));
    up("red", "blue", "staff");
    announce("blue", true, route("blue", "blue"), route("o", "blue", "o"));
    assertThat(host.heldBy("red")).containsOnlyKeys("x", "staff");
    host.hidden.get("red").clear();
    x.nameable("red", "blue");
    assertThat(host.heldBy("red")).containsOnly(Map.entry("x", List.of("x")), Map.entry("staff", List.of("x", "staff")),
        Map.entry("blue", List.of("x", "blue")), Map.entry("o", List.of("x", "blue", "o")));
  }
}
