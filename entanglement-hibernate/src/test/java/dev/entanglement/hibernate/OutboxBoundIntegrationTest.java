package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import io.grpc.Status;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A connected peer that stops reading costs bounded memory: past
 * {@code entanglement.outbox.max_entries} waiting changes its stream is closed, and it catches
 * up from the database once it reconnects.
 */
class OutboxBoundIntegrationTest {
  private TestNode node;
  private TestNode peer;
  private RecordingPeer stalled;

  @AfterEach
  void close() {
    if (stalled != null) {
      stalled.close();
    }
    for (TestNode n : new TestNode[] {peer, node}) {
      if (n != null) {
        n.close();
      }
    }
  }

  @Test
  void peerThatNeverReads_isCutOffAtTheBound_andAReturningPeerCatchesUpFromTheDatabase() throws Exception {
    String address = "outbox-" + UUID.randomUUID();
    node = TestNode.builder("a", Database.H2, Item.class).listenInProcess(address)
        .set(EntanglementSettings.OUTBOX_MAX_ENTRIES, "100").start();
    stalled = RecordingPeer.handshake(address, "stalled"); // granted nothing after the Hello
    await().until(() -> node.entanglement().connectedPeers().contains("stalled"));

    for (int i = 0; i < 300; i++) {
      Item item = new Item("S" + i, "item " + i, i);
      node.inTransaction(em -> em.persist(item));
    }
    Status ended = stalled.awaitEnd();
    assertThat(ended.getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
    assertThat(ended.getDescription()).contains("peer 'stalled' does not keep up", "more than 100 changes",
        "entanglement.outbox.max_entries");
    await().until(() -> !node.entanglement().connectedPeers().contains("stalled"));

    // a real peer with that bound still gets everything: catch-up reads the database in chunks
    peer = TestNode.builder("b", Database.H2, Item.class).peers("inprocess:" + address).start();
    peer.awaitConnected("a");
    node.entanglement().caughtUp("b").get(30, TimeUnit.SECONDS);
    assertThat(peer.all(Item.class)).hasSize(300);
  }
}
