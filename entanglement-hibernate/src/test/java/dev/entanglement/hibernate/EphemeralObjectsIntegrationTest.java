package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Ephemeral objects: records synchronized like entities (two hops away too, coalesced, owned)
 * but kept in memory only, gone at the other nodes when their owner goes away or their time to
 * live passes.
 */
class EphemeralObjectsIntegrationTest {
  /** Who is online and where their cursor is. */
  public record Presence(String user, String status, int cursor, Instant since) {}

  /** Another type, registered with a time to live. */
  public record Heartbeat(String node, long beat) {}

  private final List<AutoCloseable> closeables = new ArrayList<>();
  private TestNode a;
  private TestNode b;
  private TestNode c;
  private String addressA;

  @BeforeEach
  void line() {
    addressA = "eph-a-" + UUID.randomUUID();
    String addressB = "eph-b-" + UUID.randomUUID();
    a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(addressA).start());
    b = track(TestNode.builder("b", Database.H2, Item.class).listenInProcess(addressB).peers("inprocess:" + addressA).start());
    c = track(TestNode.builder("c", Database.H2, Item.class).peers("inprocess:" + addressB).start());
    a.awaitConnected("b");
    c.awaitConnected("b");
  }

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

  private static Optional<Presence> at(TestNode node, String id) {
    return presence(node).get(id);
  }

  @Test
  void createdUpdatedRemoved_reachTwoHopsAway_andNeverTouchADatabase() {
    Instant since = Instant.parse("2026-11-22T10:00:00Z");
    List<String> seenAtC = new CopyOnWriteArrayList<>();
    presence(c).subscribe(new EphemeralObjects.Listener<>() {
      @Override
      public void updated(String id, Presence value, String owner) {
        seenAtC.add("updated " + id + " " + value.status() + " by " + owner);
      }

      @Override
      public void removed(String id, String owner) {
        seenAtC.add("removed " + id);
      }
    });
    presence(b);
    presence(a).put("ana", new Presence("ana", "online", 3, since));
    await().atMost(Duration.ofSeconds(10)).until(() -> at(c, "ana").isPresent());
    assertThat(at(c, "ana")).contains(new Presence("ana", "online", 3, since));
    assertThat(presence(c).ownerOf("ana")).contains("a");
    assertThat(at(b, "ana")).isPresent();

    presence(a).put("ana", new Presence("ana", "away", 7, since));
    await().atMost(Duration.ofSeconds(10)).until(() -> at(c, "ana").map(Presence::status).orElse("").equals("away"));

    assertThat(presence(a).remove("ana")).isTrue();
    await().atMost(Duration.ofSeconds(10)).until(() -> at(c, "ana").isEmpty() && at(b, "ana").isEmpty());
    await().atMost(Duration.ofSeconds(10)).until(() -> seenAtC.contains("removed ana"));
    assertThat(seenAtC).containsSubsequence("updated ana online by a", "updated ana away by a", "removed ana");
    for (TestNode node : List.of(a, b, c)) {
      assertThat(((Number) node.sql("select count(*) from entanglement_object where entity_name = 'Presence'")).longValue())
          .as("no bookkeeping row at " + node.name()).isZero();
    }
  }

  @Test
  void onlyTheOwnerChangesAnObject_andARelayNeedNotKnowTheType() {
    // b never registers Presence: it relays the objects undecoded; c registers only when it reads
    presence(a).put("ana", new Presence("ana", "online", 0, Instant.EPOCH));
    await().atMost(Duration.ofSeconds(10)).until(() -> at(c, "ana").isPresent());
    assertThatThrownBy(() -> presence(c).put("ana", new Presence("ana", "hijacked", 0, Instant.EPOCH)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("ephemeral Presence 'ana' is owned by node 'a'; only its owner changes it (node 'c' may use another id)");
    assertThatThrownBy(() -> presence(c).remove("ana")).isInstanceOf(IllegalStateException.class)
        .hasMessage("ephemeral Presence 'ana' is owned by node 'a'; only its owner removes it");
    assertThat(at(a, "ana").map(Presence::status)).contains("online");
  }

  @Test
  void goneWhenTheirOwnerDisconnects_andANewPeerReceivesTheCurrentOnes() {
    presence(b);
    presence(c);
    presence(a).put("ana", new Presence("ana", "online", 0, Instant.EPOCH));
    presence(c).put("cleo", new Presence("cleo", "online", 0, Instant.EPOCH));
    await().atMost(Duration.ofSeconds(10)).until(() -> at(c, "ana").isPresent() && at(a, "cleo").isPresent());

    // a newcomer dialing a gets both: a's own and c's, relayed
    TestNode d = track(TestNode.builder("d", Database.H2, Item.class).peers("inprocess:" + addressA).start());
    presence(d);
    d.awaitConnected("a");
    await().atMost(Duration.ofSeconds(10)).until(() -> at(d, "ana").isPresent() && at(d, "cleo").isPresent());

    a.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> at(b, "ana").isEmpty() && at(c, "ana").isEmpty());
    assertThat(at(b, "cleo")).as("c's own object stays where c is reachable").isPresent();
    assertThat(at(d, "cleo")).as("d reached cleo through a, which is gone").isEmpty();
  }

  @Test
  void timeToLive_dropsObjectsThatAreNotRefreshed() {
    Duration ttl = Duration.ofMillis(400);
    EphemeralObjects<Heartbeat> atA = a.entanglement().ephemeral(Heartbeat.class, ttl);
    EphemeralObjects<Heartbeat> atC = c.entanglement().ephemeral(Heartbeat.class, ttl);
    b.entanglement().ephemeral(Heartbeat.class, ttl);
    atA.put("a", new Heartbeat("a", 1));
    await().atMost(Duration.ofSeconds(5)).until(() -> atC.get("a").isPresent());
    await().atMost(Duration.ofSeconds(5)).until(() -> atC.get("a").isEmpty() && atA.get("a").isEmpty());
    assertThatThrownBy(() -> a.entanglement().ephemeral(Heartbeat.class, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is registered with time to live PT0.4S already");
  }

  @Test
  void manyUpdatesOverASlowLink_coalesceToTheLatestState() {
    TestNode slow = track(TestNode.builder("slow", Database.H2, Item.class)
        .set(EntanglementSettings.BANDWIDTH_LIMIT, "2000").listenInProcess("eph-slow-" + UUID.randomUUID()).start());
    String slowAddress = slow.entanglement().listenAddress().orElseThrow();
    TestNode reader = track(TestNode.builder("reader", Database.H2, Item.class).peers(slowAddress).start());
    presence(reader);
    reader.awaitConnected("slow");
    for (int i = 0; i <= 500; i++) {
      presence(slow).put("cursor", new Presence("zoe", "typing", i, Instant.EPOCH));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> at(reader, "cursor").map(Presence::cursor).orElse(-1) == 500);
    long received = reader.entanglement().peers().stream().mapToLong(PeerStatus::changesReceived).sum();
    assertThat(received).as("changes that crossed the slow link for 501 updates").isLessThan(100);
  }

  @Test
  void registration_refusesTypesItCannotCarry() {
    record Bad(java.util.List<String> items) {}
    assertThatThrownBy(() -> a.entanglement().ephemeral(Bad.class)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("component 'items' of").hasMessageContaining("has the type java.util.List");
    assertThatThrownBy(() -> a.entanglement().ephemeral(String.class)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("java.lang.String is not a record: ephemeral types are records");
  }
}
