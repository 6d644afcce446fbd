package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.CountingDataSource;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.FaultyProxy;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Ephemeral objects between real nodes: a mesh that loses one link keeps the objects wherever
 * the owner is still reachable and drops them everywhere when the owner goes, an operator's
 * removal of an owner, a time to live kept alive by refreshing, and no database work at all.
 */
class EphemeralMeshIntegrationTest {
  /** Who is online. */
  public record Presence(String user, String status) {}

  /** Refreshed by its owner to stay alive. */
  public record Beat(String node, long count) {}

  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private <T extends AutoCloseable> T track(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  private static EphemeralObjects<Presence> presence(TestNode node) {
    return node.entanglement().ephemeral(Presence.class);
  }

  /** Records what a node's listener is told, as "added ana", "updated ana", "removed ana". */
  private static <T> List<String> listen(EphemeralObjects<T> objects) {
    List<String> events = new CopyOnWriteArrayList<>();
    objects.subscribe(new EphemeralObjects.Listener<T>() {
      @Override
      public void added(String id, T value, String owner) {
        events.add("added " + id);
      }

      @Override
      public void updated(String id, T value, String owner) {
        events.add("updated " + id);
      }

      @Override
      public void removed(String id, String owner) {
        events.add("removed " + id);
      }
    });
    return events;
  }

  private static TestNode.Builder tcp(String name) {
    return TestNode.builder(name, Database.H2, Item.class)
        .set(EntanglementSettings.PLAINTEXT, "true")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200");
  }

  private static int port(TestNode node) {
    String address = node.entanglement().listenAddress().orElseThrow();
    return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
  }

  @Test
  void triangle_losingOneLink_keepsTheObjectsWhereTheOwnerIsReachable_andTheOwnerLeavingDropsThemEverywhere() {
    TestNode a = track(tcp("a").set(EntanglementSettings.LISTEN, "127.0.0.1:0").start());
    FaultyProxy linkAB = track(FaultyProxy.start("127.0.0.1", port(a)));
    TestNode b = track(tcp("b").set(EntanglementSettings.LISTEN, "127.0.0.1:0").peers(linkAB.address()).start());
    TestNode c = track(tcp("c").peers(a.entanglement().listenAddress().orElseThrow() + ","
        + b.entanglement().listenAddress().orElseThrow()).start());
    for (TestNode node : List.of(a, b, c)) {
      await().alias(node.name() + " has two peers").atMost(Duration.ofSeconds(20))
          .until(() -> node.entanglement().connectedPeers().size() == 2);
    }
    presence(a);
    presence(b);
    List<String> atC = listen(presence(c));
    presence(a).put("ana", new Presence("ana", "online"));
    await().atMost(Duration.ofSeconds(10)).until(() -> presence(b).get("ana").isPresent()
        && presence(c).get("ana").isPresent());

    linkAB.cut();
    await().atMost(Duration.ofSeconds(10)).until(() -> !b.entanglement().connectedPeers().contains("a"));
    // b reaches a through c now: it keeps ana (or gets it back from c), and c never loses it
    await().atMost(Duration.ofSeconds(10)).until(() -> presence(b).get("ana").isPresent());
    presence(a).put("ana", new Presence("ana", "away"));
    await().atMost(Duration.ofSeconds(10)).until(() -> presence(b).get("ana").map(Presence::status).orElse("").equals("away"));
    assertThat(presence(c).get("ana").map(Presence::status)).contains("away");
    assertThat(atC).containsExactly("added ana", "updated ana");

    // the owner goes: no node keeps its object alive for another (no path leads to a any more)
    a.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> presence(b).get("ana").isEmpty() && presence(c).get("ana").isEmpty());
    await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3))
        .until(() -> presence(b).get("ana").isEmpty() && presence(c).get("ana").isEmpty());
    assertThat(atC).containsExactly("added ana", "updated ana", "removed ana");
  }

  @Test
  void anOwnerRemovedByAnOperator_losesItsObjectsEverywhere_andCannotPutThemBack() {
    String addressA = "eph-rm-a-" + UUID.randomUUID();
    String addressB = "eph-rm-b-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(addressA).start());
    TestNode b = track(TestNode.builder("b", Database.H2, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA).start());
    TestNode c = track(TestNode.builder("c", Database.H2, Item.class).peers("inprocess:" + addressB).start());
    a.awaitConnected("b");
    c.awaitConnected("b");
    presence(a);
    presence(b);
    presence(c).put("cleo", new Presence("cleo", "online"));
    await().atMost(Duration.ofSeconds(10)).until(() -> presence(a).get("cleo").isPresent());

    b.entanglement().removeOwner("c").join();
    await().atMost(Duration.ofSeconds(10)).until(() -> presence(a).get("cleo").isEmpty() && presence(b).get("cleo").isEmpty());
    presence(c).put("cleo", new Presence("cleo", "back"));
    c.awaitCaughtUp("b");
    assertThat(presence(b).get("cleo")).isEmpty();
    assertThat(b.entanglement().peers().stream().filter(p -> "c".equals(p.name())).findFirst().orElseThrow()
        .changesRejectedHere()).isEqualTo(1);
    assertThat(presence(a).get("cleo")).isEmpty();
  }

  @Test
  void timeToLive_anObjectRefreshedInTimeStays_andGoesEverywhereOnceNoLongerRefreshed() {
    String address = "eph-ttl-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(address).start());
    TestNode b = track(TestNode.builder("b", Database.H2, Item.class).peers("inprocess:" + address).start());
    b.awaitConnected("a");
    Duration ttl = Duration.ofMillis(400);
    EphemeralObjects<Beat> atA = a.entanglement().ephemeral(Beat.class, ttl);
    EphemeralObjects<Beat> atB = b.entanglement().ephemeral(Beat.class, ttl);
    List<String> seenAtB = listen(atB);
    ScheduledExecutorService refresher = Executors.newSingleThreadScheduledExecutor();
    try {
      long[] count = {0};
      refresher.scheduleAtFixedRate(() -> atA.put("a", new Beat("a", ++count[0])), 0, 50, TimeUnit.MILLISECONDS);
      await().atMost(Duration.ofSeconds(5)).until(() -> atB.get("a").isPresent());
      // three times the time to live, refreshed all along: never gone
      await().during(Duration.ofMillis(1200)).atMost(Duration.ofSeconds(3)).until(() -> atB.get("a").isPresent());
      assertThat(seenAtB).doesNotContain("removed a");
    } finally {
      refresher.shutdownNow();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> atB.get("a").isEmpty() && atA.get("a").isEmpty());
    await().atMost(Duration.ofSeconds(5)).until(() -> seenAtB.contains("removed a"));
    assertThat(seenAtB).filteredOn(e -> e.startsWith("removed")).containsExactly("removed a");
  }

  @Test
  void ephemeralObjects_neverTouchTheDatabase_noConnectionNoTableNoRow() {
    String addressA = "eph-db-a-" + UUID.randomUUID();
    String addressB = "eph-db-b-" + UUID.randomUUID();
    // no timer writes during the test: heartbeats (which flush positions) and compaction are far apart
    TestNode.Builder builderA = quiet(TestNode.builder("a", Database.H2, Item.class).listenInProcess(addressA));
    TestNode.Builder builderB = quiet(TestNode.builder("b", Database.H2, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA));
    TestNode.Builder builderC = quiet(TestNode.builder("c", Database.H2, Item.class).peers("inprocess:" + addressB));
    List<CountingDataSource> dataSources = List.of(builderA.countConnections(), builderB.countConnections(),
        builderC.countConnections());
    TestNode a = track(builderA.start());
    TestNode b = track(builderB.start());
    TestNode c = track(builderC.start());
    a.awaitConnected("b");
    c.awaitConnected("b");
    a.awaitCaughtUp("b");
    b.awaitCaughtUp("a");
    b.awaitCaughtUp("c");
    c.awaitCaughtUp("b");
    List<TestNode> nodes = List.of(a, b, c);
    List<Map<String, Long>> before = nodes.stream().map(EphemeralMeshIntegrationTest::rowsPerTable).toList();
    long[] borrowedBefore = dataSources.stream().mapToLong(CountingDataSource::borrowed).toArray();
    assertThat(java.util.Arrays.stream(borrowedBefore).min().orElseThrow()).as("the nodes use the counting data sources").isPositive();

    EphemeralObjects<Beat> beats = a.entanglement().ephemeral(Beat.class, Duration.ofMillis(200));
    c.entanglement().ephemeral(Beat.class, Duration.ofMillis(200));
    for (int i = 0; i < 50; i++) {
      presence(a).put("ana-" + (i % 5), new Presence("ana", "typing " + i));
      presence(c).put("cleo", new Presence("cleo", "typing " + i));
    }
    beats.put("a", new Beat("a", 1));
    presence(a).remove("ana-4");
    await().atMost(Duration.ofSeconds(10)).until(() -> presence(c).all().size() == 5
        && presence(c).get("ana-3").map(Presence::status).orElse("").equals("typing 48")
        && presence(a).get("cleo").map(Presence::status).orElse("").equals("typing 49"));
    await().atMost(Duration.ofSeconds(5)).until(() -> c.entanglement().ephemeral(Beat.class, Duration.ofMillis(200))
        .get("a").isEmpty() && beats.get("a").isEmpty());
    a.entanglement().caughtUp("b").join();
    c.entanglement().caughtUp("b").join();
    b.entanglement().caughtUp("a").join();
    b.entanglement().caughtUp("c").join();

    for (int i = 0; i < nodes.size(); i++) {
      assertThat(dataSources.get(i).borrowed()).as("connections borrowed by " + nodes.get(i).name())
          .isEqualTo(borrowedBefore[i]);
    }
    for (int i = 0; i < nodes.size(); i++) {
      assertThat(rowsPerTable(nodes.get(i))).as("tables and rows of " + nodes.get(i).name()).isEqualTo(before.get(i));
    }
  }

  private static TestNode.Builder quiet(TestNode.Builder builder) {
    return builder.set(EntanglementSettings.HEARTBEAT_INTERVAL_MS, "600000")
        .set(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, "1200000")
        .set(EntanglementSettings.COMPACTION_INTERVAL_MS, "600000")
        .set(EntanglementSettings.NODE_LEASE_TIMEOUT_MS, "600000"); // the lease renewal borrows one now and then
  }

  /** Every table of the node's database with its row count. */
  private static Map<String, Long> rowsPerTable(TestNode node) {
    Map<String, Long> rows = new TreeMap<>();
    List<?> tables = node.read(em -> em.createNativeQuery(
        "select table_name from information_schema.tables where table_schema = 'PUBLIC'").getResultList());
    for (Object table : tables) {
      rows.put(table.toString(), ((Number) node.sql("select count(*) from \"" + table + "\"")).longValue());
    }
    return rows;
  }
}
