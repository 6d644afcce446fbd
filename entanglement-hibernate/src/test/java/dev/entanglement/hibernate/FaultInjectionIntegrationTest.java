package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.FaultyProxy;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Two nodes over TCP through a proxy that cuts, black-holes and delays the link. */
class FaultInjectionIntegrationTest {
  private TestNode a;
  private TestNode b;
  private FaultyProxy proxy;

  private void start(Database database) {
    a = TestNode.builder("a", database, Item.class)
        .set(EntanglementSettings.LISTEN, "127.0.0.1:0").set(EntanglementSettings.PLAINTEXT, "true")
        .set(EntanglementSettings.HEARTBEAT_INTERVAL_MS, "100")
        .set(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, "600").start();
    int port = Integer.parseInt(a.entanglement().listenAddress().orElseThrow().split(":")[1]);
    proxy = FaultyProxy.start("127.0.0.1", port);
    b = TestNode.builder("b", database, Item.class)
        .peers(proxy.address()).set(EntanglementSettings.PLAINTEXT, "true")
        .set(EntanglementSettings.HEARTBEAT_INTERVAL_MS, "100")
        .set(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, "600")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200").start();
    b.awaitConnected("a");
  }

  @AfterEach
  void close() {
    for (AutoCloseable closeable : new AutoCloseable[] {b, a, proxy}) {
      try {
        if (closeable != null) {
          closeable.close();
        }
      } catch (Exception ignored) {
        // best effort
      }
    }
  }

  private List<Item> changeWhile(int count, String prefix) {
    List<Item> items = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      Item item = new Item(prefix + i, "item " + i, i);
      a.inTransaction(em -> em.persist(item));
      items.add(item);
    }
    return items;
  }

  private void assertConverged() {
    b.awaitConnected("a");
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void cut_changesDuringThePartitionArriveAfterHealing(Database database) {
    start(database);
    List<Item> before = changeWhile(10, "before-");
    proxy.cut();
    await().atMost(Duration.ofSeconds(10)).until(() -> b.entanglement().connectedPeers().isEmpty());
    changeWhile(10, "during-");
    a.inTransaction(em -> before.subList(0, 5).forEach(i -> em.remove(em.find(Item.class, i.getId()))));
    a.inTransaction(em -> before.subList(5, 10).forEach(i -> em.find(Item.class, i.getId()).setQuantity(99)));
    proxy.heal();
    assertConverged();
    assertThat(b.all(Item.class)).hasSize(15);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void blackhole_isDetectedByHeartbeats_andHealingReconnects(Database database) {
    start(database);
    changeWhile(3, "before-");
    proxy.blackhole();
    // nothing is closed: only the silence tells the nodes the link is gone
    await().alias("silence detected").atMost(Duration.ofSeconds(10))
        .until(() -> b.entanglement().connectedPeers().isEmpty() && a.entanglement().connectedPeers().isEmpty());
    changeWhile(7, "during-");
    proxy.heal();
    assertConverged();
    assertThat(b.all(Item.class)).hasSize(10);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void delay_slowsButLosesNothing(Database database) {
    start(database);
    proxy.delay(Duration.ofMillis(80));
    long start = System.nanoTime();
    List<Item> items = changeWhile(20, "slow-");
    a.inTransaction(em -> items.forEach(i -> em.find(Item.class, i.getId()).setName("renamed")));
    assertConverged();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThan(Duration.ofMillis(160));
    assertThat(b.all(Item.class)).extracting(Item::getName).containsOnly("renamed");
  }
}
