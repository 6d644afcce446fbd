package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Transitions: provisional state flooded to every node (also two hops away) and shown through
 * listeners, never written to a database; ended by the owner's commit of the same values, broken
 * by another commit, by a second transition or by a cancel.
 */
class TransitionIntegrationTest {
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private TestNode a;
  private TestNode b;
  private TestNode c;
  private final Recorder atA = new Recorder();
  private final Recorder atB = new Recorder();
  private Item item;

  /** Records what a node's listener is told, as "kind origin name" lines. */
  static final class Recorder implements TransitionListener {
    final List<String> events = new CopyOnWriteArrayList<>();

    @Override
    public void provisional(TransitionEvent event) {
      events.add("provisional " + event.origin() + " " + event.values().get("name"));
    }

    @Override
    public void ended(TransitionEvent event) {
      events.add("ended " + event.origin() + " " + event.values().get("name"));
    }

    @Override
    public void broken(TransitionEvent event) {
      events.add("broken " + event.origin());
    }
  }

  @BeforeEach
  void line() {
    String addressA = "tn-a-" + UUID.randomUUID();
    String addressB = "tn-b-" + UUID.randomUUID();
    a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(addressA).start());
    b = track(TestNode.builder("b", Database.H2, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA).start());
    c = track(TestNode.builder("c", Database.H2, Item.class).peers("inprocess:" + addressB).start());
    a.awaitConnected("b");
    c.awaitConnected("b");
    a.entanglement().addTransitionListener(atA);
    b.entanglement().addTransitionListener(atB);
    item = new Item("T1", "resting", 1);
    a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) != null);
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

  private void assertNothingPersisted() {
    for (TestNode node : List.of(a, b, c)) {
      assertThat(node.find(Item.class, item.getId()).getName()).as("database of " + node.name()).isEqualTo("resting");
    }
  }

  private static Throwable failure(Transition<?> transition) {
    try {
      transition.outcome().get(20, TimeUnit.SECONDS);
      throw new AssertionError("the transition did not fail");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void transition_startedUpdatedAndEnded_isSeenEverywhere_butNeverPersistedBeforeTheCommit() throws Exception {
    Transition<Item> drag = c.entanglement().startTransition(Item.class, item.getId());
    drag.update(i -> i.setName("dragging 1")).update(i -> i.setName("dragging 2"));

    await().atMost(Duration.ofSeconds(10)).until(() -> atA.events.contains("provisional c dragging 2")
        && atB.events.contains("provisional c dragging 2"));
    assertThat(atA.events).containsSubsequence("provisional c dragging 1", "provisional c dragging 2");
    assertNothingPersisted();

    Item committed = drag.commit().get(20, TimeUnit.SECONDS);
    assertThat(committed.getName()).isEqualTo("dragging 2");
    await().atMost(Duration.ofSeconds(10)).until(() -> atA.events.contains("ended c dragging 2")
        && atB.events.contains("ended c dragging 2"));
    for (TestNode node : List.of(a, b, c)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> "dragging 2".equals(node.find(Item.class, item.getId()).getName()));
    }
  }

  @Test
  void transition_isBrokenByAnotherCommitOfTheOwner() {
    Transition<Item> drag = c.entanglement().startTransition(Item.class, item.getId());
    drag.update(i -> i.setName("dragging"));
    await().atMost(Duration.ofSeconds(10)).until(() -> atA.events.contains("provisional c dragging"));

    a.inTransaction(em -> em.find(Item.class, item.getId()).setName("decided by a"));

    assertThat(failure(drag)).isInstanceOf(TransitionBrokenException.class)
        .hasMessage("transition c:%d of Item#%s was broken: the owner 'a' committed other values of name"
            .formatted(drag.id(), item.getId()));
    await().atMost(Duration.ofSeconds(10)).until(() -> atA.events.contains("broken c") && atB.events.contains("broken c"));
    // the broken transition's values never reached a database
    await().atMost(Duration.ofSeconds(10)).until(() -> "decided by a".equals(c.find(Item.class, item.getId()).getName()));
  }

  @Test
  void transition_isBrokenByASecondTransition_andByACancel() {
    Transition<Item> first = c.entanglement().startTransition(Item.class, item.getId());
    first.update(i -> i.setName("first"));
    await().atMost(Duration.ofSeconds(10)).until(() -> atB.events.contains("provisional c first"));

    Transition<Item> second = b.entanglement().startTransition(Item.class, item.getId());
    second.update(i -> i.setName("second"));

    assertThat(failure(first)).isInstanceOf(TransitionBrokenException.class)
        .hasMessage("transition c:%d of Item#%s was broken by transition b:%d"
            .formatted(first.id(), item.getId(), second.id()));
    await().atMost(Duration.ofSeconds(10)).until(() -> atA.events.contains("provisional b second"));
    assertThat(atA.events).contains("broken c");

    second.cancel();
    assertThat(failure(second)).isInstanceOf(TransitionBrokenException.class)
        .hasMessage("transition b:%d of Item#%s was cancelled by 'b'".formatted(second.id(), item.getId()));
    await().atMost(Duration.ofSeconds(10)).until(() -> atA.events.contains("broken b"));
    assertNothingPersisted();
  }
}
