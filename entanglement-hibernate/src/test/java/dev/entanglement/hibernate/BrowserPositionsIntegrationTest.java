package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.BrowserClient;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.TokenIdentity;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.OwnerPosition;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The positions a node's batches carry to a browser name only owners the browser was sent objects
 * of: a red tab is never told that blue exists, not even as an owner with a serial (the JavaScript
 * client's protocol test found blue's position in a batch to a red tab).
 */
class BrowserPositionsIntegrationTest {
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

  @Test
  void aRedBrowsersBatchesCarryNoPositionOfBlue() throws Exception {
    String unique = UUID.randomUUID().toString();
    TestNode hq = track(TestNode.builder("hq", Database.H2, Item.class)
        .listenInProcess("hq-" + unique)
        .set(EntanglementSettings.POLICY, new BrowserPeerIntegrationTest.TeamPolicy())
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, new TokenIdentity())
        .start());
    TestNode red = track(TestNode.builder("red", Database.H2, Item.class).peers("inprocess:hq-" + unique)
        .set(EntanglementSettings.POLICY, new BrowserPeerIntegrationTest.TeamPolicy()).start());
    TestNode blue = track(TestNode.builder("blue", Database.H2, Item.class).peers("inprocess:hq-" + unique)
        .set(EntanglementSettings.POLICY, new BrowserPeerIntegrationTest.TeamPolicy()).start());
    hq.awaitConnected("red");
    hq.awaitConnected("blue");

    BrowserClient alice = track(BrowserClient.connect(hq.entanglement().webAddress().orElseThrow(),
        "/entanglement?token=alice-secret"));
    alice.hello(Map.of());
    alice.await(Envelope::hasHello);

    // blue commits twice, and hq holds blue's objects complete through a position (blue's second
    // batch carries the position of its first)
    for (int i = 0; i < 3; i++) {
      Item item = new Item("blue-" + i, "blue " + i, 1);
      blue.inTransaction(em -> em.persist(item));
      blue.awaitCaughtUp("hq");
    }
    // then a red change: its batch to alice carries the positions that moved
    Item redItem = new Item("red-1", "red", 1);
    red.inTransaction(em -> em.persist(redItem));
    await().atMost(Duration.ofSeconds(20)).until(() -> alice.received().stream().filter(Envelope::hasChanges)
        .flatMap(e -> e.getChanges().getChangesList().stream())
        .anyMatch(c -> c.getId().getUuid().equals(redItem.getId().toString())));
    hq.awaitCaughtUp("red.alice");
    // red's position reaches a browser in an empty batch up to a second later, if no change carried it
    await().atMost(Duration.ofSeconds(20)).until(() -> alice.positions().containsKey("red"));

    List<String> owners = alice.received().stream().filter(Envelope::hasChanges)
        .flatMap(e -> e.getChanges().getPositionsList().stream()).map(OwnerPosition::getOwner).distinct().toList();
    assertThat(owners).contains("red").doesNotContain("blue");
    assertThat(alice.positions()).containsKey("red").doesNotContainKey("blue");
  }
}
