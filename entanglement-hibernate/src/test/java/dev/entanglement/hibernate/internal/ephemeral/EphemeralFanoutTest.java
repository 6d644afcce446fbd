package dev.entanglement.hibernate.internal.ephemeral;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.EphemeralObjects;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

/** Listener dispatch: in order while listeners keep up, folded per object when they fall behind. */
class EphemeralFanoutTest {
  private final Queue<Runnable> tasks = new ArrayDeque<>();
  private final Executor held = tasks::add;
  private final EphemeralFanout fanout = new EphemeralFanout("me", List::of, held);
  private final List<String> told = new ArrayList<>();

  EphemeralFanoutTest() {
    fanout.subscribe("Presence", new EphemeralObjects.Listener<String>() {
      @Override
      public void added(String id, String value, String owner) {
        told.add("added " + id + "=" + value);
      }

      @Override
      public void updated(String id, String value, String owner) {
        told.add("updated " + id + "=" + value);
      }

      @Override
      public void removed(String id, String owner) {
        told.add("removed " + id);
      }
    });
  }

  private void runAll() {
    Runnable task;
    while ((task = tasks.poll()) != null) {
      task.run();
    }
  }

  @Test
  void listenersAreToldEveryEvent_inOrder() {
    fanout.added("Presence", "ana", "online", "a");
    fanout.updated("Presence", "ana", "away", "a");
    fanout.removed("Presence", "ana", "a", RemovalCause.EXPIRED);
    fanout.added("Other", "x", "ignored: no listener", "a");
    runAll();
    assertThat(told).containsExactly("added ana=online", "updated ana=away", "removed ana");
  }

  @Test
  void listenersFarBehind_getEachObjectsLatestState_once() {
    fanout.added("Presence", "ana", "v0", "a");
    fanout.added("Presence", "bob", "here", "b");
    fanout.removed("Presence", "bob", "b", RemovalCause.REMOVED);
    for (int i = 1; i < EphemeralFanout.BOUND; i++) {
      fanout.updated("Presence", "ana", "v" + i, "a");
    }
    runAll();
    // the BOUND-th event folded everything queued into one event per object (bob came and went
    // unseen); the two events after it wait below the bound again, so they are told one by one
    int last = EphemeralFanout.BOUND - 1;
    assertThat(told).containsExactly("added ana=v" + (last - 2), "updated ana=v" + (last - 1), "updated ana=v" + last);
  }
}
