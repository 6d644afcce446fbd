package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** While a peer's stream is not ready, updates of one object merge into its latest state. */
class CoalescingIntegrationTest {

  @ParameterizedTest
  @EnumSource(Database.class)
  void thousandUpdates_whileStreamNotReady_arriveAsOneLatestState(Database database) {
    String address = "coalescing-" + UUID.randomUUID();
    try (TestNode node = TestNode.builder("a", database, Item.class).listenInProcess(address).start();
        RecordingPeer peer = RecordingPeer.handshake(address, "slow")) {
      // the peer has granted no message beyond the Hello: the node's stream is not ready
      Item item = new Item("HOT", "hot", 0);
      node.inTransaction(em -> em.persist(item));
      for (int i = 1; i <= 1000; i++) {
        int quantity = i;
        node.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(quantity));
      }
      PeerStatus status = node.entanglement().peers().get(0);
      assertThat(status.outboxDepth()).isEqualTo(1);
      assertThat(status.coalesced()).isEqualTo(1000);
      assertThat(status.changesSent()).isZero();

      peer.request(100);
      await().atMost(Duration.ofSeconds(10)).until(() -> !peer.changes().isEmpty());
      assertThat(peer.batches()).hasSize(1);
      Change change = peer.changes().get(0);
      assertThat(change.getSerial()).isEqualTo(1001);
      assertThat(change.getAttributesList()).filteredOn(a -> a.getName().equals("quantity"))
          .extracting(Attribute::getValue).extracting(v -> v.getInteger()).containsExactly(1000L);
      assertThat(change.getAttributesList()).filteredOn(a -> a.getName().equals("version"))
          .extracting(Attribute::getValue).extracting(v -> v.getInteger()).containsExactly(1000L);
    }
  }
}
