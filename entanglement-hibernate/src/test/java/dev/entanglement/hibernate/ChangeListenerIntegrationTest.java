package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.ChangeEvent.Kind;
import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.NodePair;
import dev.entanglement.hibernate.testing.Transport;
import dev.entanglement.hibernate.testing.model.Memo;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Change listeners (issue 18): what a node applied from its peers, heard after commit on the
 * plugin's listener thread, in commit order, with a detached entity; withdrawals and removals;
 * nothing for a rolled-back apply; a full queue holds the apply back instead of dropping.
 */
class ChangeListenerIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
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

  /** One heard event, with what the listener saw of its entity and its thread. */
  record Heard(Kind kind, Class<?> type, Object id, String owner, String fromPeer, Integer quantity, String thread) {}

  static final class Recorder implements ChangeListener<Item> {
    final List<Heard> heard = new CopyOnWriteArrayList<>();

    @Override
    public void changed(ChangeEvent<Item> event) {
      heard.add(new Heard(event.kind(), event.entityType(), event.id(), event.owner(), event.fromPeer(),
          event.entity().map(Item::getQuantity).orElse(null), Thread.currentThread().getName()));
    }

    List<Heard> of(UUID id) {
      return heard.stream().filter(h -> h.id().equals(id)).toList();
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Database.class)
  void insertUpdateAndDeleteFromAPeerAreHeardAfterCommit_inCommitOrder_withTheAppliedState(Database database) {
    NodePair nodes = track(NodePair.start(database, Transport.NETTY, Item.class, Memo.class));
    Recorder items = new Recorder();
    List<ChangeEvent<Memo>> memos = new CopyOnWriteArrayList<>();
    nodes.b.entanglement().addChangeListener(Item.class, items);
    nodes.b.entanglement().addChangeListener(Memo.class, memos::add);

    Item item = new Item("L1", "listened", 1);
    nodes.a.inTransaction(em -> em.persist(item));
    await().alias("b holds the item").atMost(WAIT).until(() -> items.of(item.getId()).size() == 1);
    for (int q = 2; q <= 5; q++) {
      int quantity = q;
      nodes.a.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(quantity));
      // each state committed at b before the next is written, so none is coalesced away
      await().alias("b holds quantity " + q).atMost(WAIT).until(() -> items.of(item.getId()).size() == quantity);
    }
    nodes.a.inTransaction(em -> em.remove(em.find(Item.class, item.getId())));
    await().alias("b heard the removal").atMost(WAIT).until(() -> items.of(item.getId()).size() == 6);

    List<Heard> heard = items.of(item.getId());
    assertThat(heard).extracting(Heard::kind).containsExactly(Kind.INSERTED, Kind.UPDATED, Kind.UPDATED,
        Kind.UPDATED, Kind.UPDATED, Kind.REMOVED);
    assertThat(heard).extracting(Heard::quantity).as("the detached entity holds the applied state")
        .containsExactly(1, 2, 3, 4, 5, null);
    assertThat(heard).allSatisfy(h -> {
      assertThat(h.type()).isEqualTo(Item.class);
      assertThat(h.owner()).isEqualTo("a");
      assertThat(h.fromPeer()).isEqualTo("a");
      assertThat(h.thread()).isEqualTo("entanglement-listeners-b");
    });
    assertThat(memos).as("a listener of another type hears nothing of items").isEmpty();
    assertThat(nodes.a.find(Item.class, item.getId())).isNull();
  }

  @Test
  void aNodesOwnChangesAreNotHeard_andAListenerRemovedHearsNoMore() {
    NodePair nodes = track(NodePair.start(Database.H2, Transport.IN_PROCESS, Item.class));
    Recorder atA = new Recorder();
    Recorder removed = new Recorder();
    Recorder atB = new Recorder();
    nodes.a.entanglement().addChangeListener(Item.class, atA);
    nodes.b.entanglement().addChangeListener(Item.class, removed);
    nodes.b.entanglement().addChangeListener(Item.class, atB);
    nodes.b.entanglement().removeChangeListener(removed);
    Item item = new Item("O1", "own", 1);
    nodes.a.inTransaction(em -> em.persist(item));
    await().alias("b heard it").atMost(WAIT).until(() -> atB.of(item.getId()).size() == 1);
    assertThat(atA.heard).as("a wrote it itself: not a change from a peer").isEmpty();
    assertThat(removed.heard).isEmpty();
  }

  @Test
  void aListenerOfATypeThatIsNotEntangled_isRefusedNamingIt() {
    NodePair nodes = track(NodePair.start(Database.H2, Transport.IN_PROCESS, Item.class));
    assertThatThrownBy(() -> nodes.b.entanglement().addChangeListener(String.class, event -> {}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("java.lang.String is neither an @Entangled entity")
        .hasMessageContaining(Item.class.getName());
  }

  @Test
  void anApplyTheDatabaseRefuses_firesNothing_andAListenerThatThrowsStopsNothing() throws Exception {
    NodePair nodes = track(NodePair.start(Database.H2, Transport.IN_PROCESS, Item.class));
    Recorder heard = new Recorder();
    nodes.b.entanglement().addChangeListener(Item.class, event -> {
      throw new IllegalStateException("a broken listener");
    });
    nodes.b.entanglement().addChangeListener(Item.class, heard);
    // a row written behind the plugin's back at b holds the unique code: a's item with the same
    // code cannot be written at b (the apply's transaction rolls back)
    nodes.b.jdbc("insert into Item (id, code, name, quantity, version) values (?, 'DUP', 'local', 1, 0)",
        UUID.randomUUID());
    Item refused = new Item("DUP", "a's", 2);
    Item later = new Item("OK", "a's later one", 3);
    try (LogCapture logs = LogCapture.start()) {
      nodes.a.inTransaction(em -> em.persist(refused));
      nodes.a.inTransaction(em -> em.persist(later));
      await().alias("b heard the later item").atMost(WAIT).until(() -> heard.of(later.getId()).size() == 1);
      assertThat(logs.warnings("change listener", "a broken listener")).as("the broken listener is logged")
          .isNotEmpty();
    }
    assertThat(nodes.b.find(Item.class, refused.getId())).as("the refused item is not at b").isNull();
    assertThat(heard.of(refused.getId())).as("its rolled-back apply fired nothing").isEmpty();
  }

  /** Large stocks are not shared with 'b'. */
  static final class LargeStocksNotForB implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(peer.name().equals("b") && object.entity() instanceof Item item && item.getQuantity() > 100,
          "large stocks are not shared with 'b'");
    }
  }

  @Test
  void aWithdrawalAndAnOwnerRemovalAreHeard() {
    NodePair nodes = track(NodePair.start(Database.H2, Transport.IN_PROCESS,
        a -> a.set(EntanglementSettings.POLICY, new LargeStocksNotForB()), b -> b, Item.class));
    Recorder heard = new Recorder();
    nodes.b.entanglement().addChangeListener(Item.class, heard);
    Item withdrawn = new Item("W1", "small, then large", 5);
    Item kept = new Item("K1", "stays small", 6);
    nodes.a.inTransaction(em -> {
      em.persist(withdrawn);
      em.persist(kept);
    });
    await().alias("b heard both").atMost(WAIT).until(() -> heard.heard.size() == 2);
    nodes.a.inTransaction(em -> em.find(Item.class, withdrawn.getId()).setQuantity(500));
    await().alias("b heard the withdrawal").atMost(WAIT).until(() -> heard.of(withdrawn.getId()).size() == 2);
    assertThat(heard.of(withdrawn.getId()).get(1)).extracting(Heard::kind, Heard::owner, Heard::fromPeer, Heard::quantity)
        .containsExactly(Kind.WITHDRAWN, "a", "a", null);

    nodes.a.close();
    assertThat(nodes.b.entanglement().removeOwner("a").join()).isEqualTo(1);
    await().alias("b heard the removal of a's object").atMost(WAIT).until(() -> heard.of(kept.getId()).size() == 2);
    assertThat(heard.of(kept.getId()).get(1)).extracting(Heard::kind, Heard::owner, Heard::fromPeer)
        .containsExactly(Kind.REMOVED, "a", null);
  }

  @Test
  void aListenerThatFallsBehind_holdsTheApplyBack_andLosesNothing() throws Exception {
    NodePair nodes = track(NodePair.start(Database.H2, Transport.IN_PROCESS, a -> a,
        b -> b.set(EntanglementSettings.LISTENER_QUEUE, 2), Item.class));
    CountDownLatch release = new CountDownLatch(1);
    Recorder heard = new Recorder();
    nodes.b.entanglement().addChangeListener(Item.class, event -> {
      try {
        release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      heard.changed(event);
    });
    List<UUID> written = new ArrayList<>();
    try (LogCapture logs = LogCapture.start()) {
      for (int i = 0; i < 20; i++) {
        Item item = new Item("B" + i, "one of many", i);
        nodes.a.inTransaction(em -> em.persist(item));
        written.add(item.getId());
      }
      await().alias("b's apply waits for the listener").atMost(WAIT)
          .until(() -> !logs.warnings("change listeners are", "behind", "applying waits").isEmpty());
    }
    release.countDown();
    await().alias("b heard all 20").atMost(WAIT).until(() -> heard.heard.size() == 20);
    assertThat(heard.heard).extracting(Heard::id).as("in commit order, none dropped").containsExactlyElementsOf(written);
    assertThat(nodes.b.all(Item.class)).hasSize(20);
  }
}
