package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Automatic withdrawal (issue 17): a change that makes an object denied for a peer that may hold
 * it removes the peer's copy (the object lives on at its owner); a peer that never could hold it
 * hears nothing of it.
 */
class WithdrawalIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(15);
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

  /** Large stocks (quantity over 100) are not shared with 'b': a decision on the object's state. */
  static final class LargeStocksNotForB implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(peer.name().equals("b") && object.entity() instanceof Item item && item.getQuantity() > 100,
          "large stocks are not shared with 'b'");
    }
  }

  private TestNode node(String name, String listen, String peers, Policy policy) {
    TestNode.Builder builder = TestNode.builder(name, Database.H2, Item.class);
    if (listen != null) {
      builder.listenInProcess(listen);
    }
    if (peers != null) {
      builder.peers(peers);
    }
    if (policy != null) {
      builder.set(EntanglementSettings.POLICY, policy);
    }
    return track(builder.start());
  }

  @Test
  void aChangeThatMakesAnObjectDeniedWithdrawsItFromThePeerThatHeldIt() {
    String address = "wd-two-" + UUID.randomUUID();
    TestNode a = node("a", address, null, new LargeStocksNotForB());
    TestNode b = node("b", null, "inprocess:" + address, null);
    b.awaitConnected("a");
    Item item = new Item("W1", "small stock", 5);
    a.inTransaction(em -> em.persist(item));
    await().alias("b holds the small stock").atMost(WAIT).until(() -> b.find(Item.class, item.getId()) != null);

    a.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(500));
    await().alias("b's copy is withdrawn").atMost(WAIT).until(() -> b.find(Item.class, item.getId()) == null);
    assertThat(a.find(Item.class, item.getId()).getQuantity()).as("the object lives on at its owner").isEqualTo(500);

    // granted again by the next change: the withdrawn copy comes back with the new state
    a.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(7));
    await().alias("b holds it again").atMost(WAIT).until(() -> b.find(Item.class, item.getId()) != null
        && b.find(Item.class, item.getId()).getQuantity() == 7);
  }
}
