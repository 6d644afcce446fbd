package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.NodePair;
import dev.entanglement.hibernate.testing.Transport;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a user reaches for on {@link Entanglement} without SQL or the admin API: an object's
 * owner, serial, epoch and pending requests; disconnecting, pausing and resuming a peer.
 */
class EntanglementApiIntegrationTest {
  private NodePair pair;

  @AfterEach
  void close() {
    if (pair != null) {
      pair.close();
    }
  }

  private UUID committedAtA(String code) {
    Item item = new Item(code, "first", 1);
    pair.a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(20)).until(() -> pair.b.find(Item.class, item.getId()) != null);
    return item.getId();
  }

  @Test
  void describe_readsOwnerSerialEpochAndPendingRequests() throws Exception {
    pair = NodePair.start(Database.H2, Transport.IN_PROCESS, Item.class);
    UUID id = committedAtA("described");

    ObjectInfo atA = pair.a.entanglement().describe(Item.class, id).orElseThrow();
    ObjectInfo atB = pair.b.entanglement().describe(Item.class, id).orElseThrow();
    assertThat(atA.owner()).isEqualTo("a");
    assertThat(atA.entity()).isEqualTo("Item");
    assertThat(atA.id()).isEqualTo(id.toString());
    assertThat(atB.owner()).isEqualTo("a");
    assertThat(atB.serial()).isEqualTo(atA.serial()).isPositive();
    assertThat(atB.epoch()).isEqualTo(atA.epoch());
    assertThat(atB.deleted()).isFalse();
    assertThat(atB.handoverTo()).isEmpty();
    assertThat(atB.pendingRequests()).isZero();
    assertThat(pair.b.entanglement().describe(Item.class, UUID.randomUUID())).isEmpty();
    assertThatThrownBy(() -> pair.b.entanglement().describe(String.class, "x"))
        .isInstanceOf(IllegalArgumentException.class);

    // a request of b's that cannot reach the owner yet shows while it waits
    assertThat(pair.b.entanglement().disconnect("a")).isTrue();
    await().atMost(Duration.ofSeconds(10)).until(() -> pair.b.entanglement().connectedPeers().isEmpty());
    var request = pair.b.entanglement().update(Item.class, id, item -> item.setName("asked"));
    assertThat(pair.b.entanglement().describe(Item.class, id).orElseThrow().pendingRequests()).isEqualTo(1);
    pair.b.entanglement().connect(pair.a.entanglement().listenAddress().orElseThrow());
    assertThat(request.get(20, TimeUnit.SECONDS).getName()).isEqualTo("asked");
    ObjectInfo after = pair.b.entanglement().describe(Item.class, id).orElseThrow();
    assertThat(after.pendingRequests()).isZero();
    assertThat(after.serial()).isGreaterThan(atB.serial());
  }

  @Test
  void pause_holdsChangesUntilResume() throws Exception {
    pair = NodePair.start(Database.H2, Transport.IN_PROCESS, Item.class);
    UUID id = committedAtA("paused");
    assertThat(pair.a.entanglement().pause("b")).isTrue();
    assertThat(pair.a.entanglement().peers()).filteredOn(p -> "b".equals(p.name())).singleElement()
        .extracting(PeerStatus::paused).isEqualTo(true);

    pair.a.inTransaction(em -> em.find(Item.class, id).setName("while paused"));
    Item held = pair.b.find(Item.class, id);
    assertThat(held.getName()).as("b's copy while a's flow to b is paused").isEqualTo("first");
    long serialAtA = pair.a.entanglement().describe(Item.class, id).orElseThrow().serial();
    assertThat(pair.b.entanglement().describe(Item.class, id).orElseThrow().serial()).isLessThan(serialAtA);

    assertThat(pair.a.entanglement().resume("b")).isTrue();
    await().atMost(Duration.ofSeconds(20)).until(() -> "while paused".equals(pair.b.find(Item.class, id).getName()));
    assertThat(pair.a.entanglement().pause("nobody")).isFalse();
    assertThat(pair.a.entanglement().resume("nobody")).isFalse();
  }

  @Test
  void disconnect_closesTheStreamAndStopsDialingUntilConnectAgain() {
    pair = NodePair.start(Database.H2, Transport.IN_PROCESS, Item.class);
    String aAddress = pair.a.entanglement().listenAddress().orElseThrow();
    assertThat(pair.b.entanglement().disconnect("a")).isTrue();
    await().atMost(Duration.ofSeconds(10)).until(() -> !pair.a.entanglement().connectedPeers().contains("b")
        && !pair.b.entanglement().connectedPeers().contains("a"));

    UUID id = UUID.randomUUID();
    Item item = new Item("after disconnect", "x", 1);
    pair.a.inTransaction(em -> em.persist(item));
    // b dialed a: once disconnected, b does not dial again on its own
    await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3))
        .until(() -> !pair.b.entanglement().connectedPeers().contains("a"));
    assertThat(pair.b.find(Item.class, item.getId())).isNull();
    assertThat(pair.b.entanglement().disconnect("nobody")).isFalse();

    pair.b.entanglement().connect(aAddress);
    await().atMost(Duration.ofSeconds(20)).until(() -> pair.b.find(Item.class, item.getId()) != null);
    assertThat(id).isNotNull();
  }
}
