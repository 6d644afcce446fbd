package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An owner hands an object to another node: every node learns the new owner (also two hops
 * away), the new owner decides from then on, and the hand-over is fenced against concurrent
 * changes on either side by the ownership epoch.
 */
class OwnershipTransferIntegrationTest {
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private TestNode a;
  private TestNode b;
  private TestNode c;

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

  /** a - b - c, a and c not connected. */
  private void line(Database database) {
    String addressA = "tr-a-" + UUID.randomUUID();
    String addressB = "tr-b-" + UUID.randomUUID();
    a = track(TestNode.builder("a", database, Item.class).listenInProcess(addressA)
        .set(EntanglementSettings.REQUEST_TIMEOUT_MS, "15000").start());
    b = track(TestNode.builder("b", database, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA).start());
    c = track(TestNode.builder("c", database, Item.class).peers("inprocess:" + addressB)
        .set(EntanglementSettings.REQUEST_TIMEOUT_MS, "15000").start());
    a.awaitConnected("b");
    c.awaitConnected("b");
  }

  private Item ownedByA(String code) {
    Item item = new Item(code, "at a", 1);
    a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) != null);
    return item;
  }

  private static long epoch(TestNode node, UUID id) {
    return ((Number) node.sql("select epoch from entanglement_object where object_id = '" + id + "'")).longValue();
  }

  private static Throwable cause(CompletableFuture<?> future) {
    try {
      future.get(20, TimeUnit.SECONDS);
      throw new AssertionError("the future did not fail");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void transfer_twoHopsAway_everyNodeLearnsTheNewOwner_whoDecidesFromThenOn(Database database) throws Exception {
    line(database);
    Item item = ownedByA("TR1");

    Item handed = a.entanglement().transfer(Item.class, item.getId(), "c").get(20, TimeUnit.SECONDS);
    assertThat(handed.getCode()).isEqualTo("TR1");
    for (TestNode node : List.of(a, b, c)) {
      await().alias(node.name() + " learns the new owner").atMost(Duration.ofSeconds(10))
          .until(() -> node.entanglement().ownerOf(Item.class, item.getId()).orElse("").equals("c")
              && epoch(node, item.getId()) == 1);
    }

    // the new owner writes it as its own, in an ordinary transaction
    c.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(30));
    await().atMost(Duration.ofSeconds(10)).until(() -> a.find(Item.class, item.getId()).getQuantity() == 30);

    // the old owner's change is now a request to the new owner
    Item requested = a.entanglement().update(Item.class, item.getId(), i -> i.setName("asked by a"))
        .get(20, TimeUnit.SECONDS);
    assertThat(requested.getName()).isEqualTo("asked by a");
    assertThat(c.find(Item.class, item.getId()).getName()).isEqualTo("asked by a");
    await().atMost(Duration.ofSeconds(10)).until(() -> "asked by a".equals(b.find(Item.class, item.getId()).getName()));
  }

  @Test
  void transfer_failures_areTyped_andAHandOverToAnAbsentNodeCompletesWhenItArrives() throws Exception {
    String addressA = "tr-fail-a-" + UUID.randomUUID();
    a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(addressA)
        .set(EntanglementSettings.REQUEST_TIMEOUT_MS, "1000").start());
    Item item = new Item("TR2", "at a", 1);
    a.inTransaction(em -> em.persist(item));

    assertThat(cause(a.entanglement().transfer(Item.class, UUID.randomUUID(), "b")))
        .isInstanceOf(UpdateRequestException.NotFound.class).hasMessageContaining("has no Item#");
    assertThat(cause(a.entanglement().transfer(Item.class, item.getId(), "a")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("Item#" + item.getId() + " cannot be handed over to its own owner 'a'");

    // b is not there: the hand-over stands, the future says the new owner has not taken it yet
    assertThat(cause(a.entanglement().transfer(Item.class, item.getId(), "b")))
        .isInstanceOf(UpdateRequestException.OwnerUnreachable.class)
        .hasMessage("'b' has not taken Item#%s over within 1000 ms; the hand-over stands and completes when 'b' receives it"
            .formatted(item.getId()));
    assertThat(a.entanglement().ownerOf(Item.class, item.getId())).contains("b");
    // a second hand-over by the node that gave it away is refused
    assertThat(cause(a.entanglement().transfer(Item.class, item.getId(), "c")))
        .isInstanceOf(UpdateRequestException.Refused.class)
        .hasMessage("Item#%s is owned by 'b', not by 'a': only its owner can hand it over".formatted(item.getId()));
    // and the application's own change of it is a request, not a local write
    a.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(99));
    assertThat(a.find(Item.class, item.getId()).getQuantity()).isEqualTo(1);

    b = track(TestNode.builder("b", Database.H2, Item.class).peers("inprocess:" + addressA).start());
    await().atMost(Duration.ofSeconds(15)).until(() -> b.entanglement().ownerOf(Item.class, item.getId()).orElse("").equals("b")
        && epoch(a, item.getId()) == 1);
    assertThat(a.entanglement().ownerOf(Item.class, item.getId())).contains("b");
    b.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(5));
    await().atMost(Duration.ofSeconds(10)).until(() -> a.find(Item.class, item.getId()).getQuantity() == 5);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void transfer_underConcurrentUpdatesOnBothSides_endsWithOneOwnerAndConvergedState(Database database) throws Exception {
    line(database);
    Item item = ownedByA("TR3");
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger committedAtA = new AtomicInteger();
    AtomicInteger rolledBackAtA = new AtomicInteger();
    AtomicInteger requestedFromC = new AtomicInteger();
    List<CompletableFuture<Item>> requests = new ArrayList<>();
    Thread writerAtA = new Thread(() -> {
      int n = 0;
      while (running.get()) {
        int value = ++n;
        try {
          a.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(1000 + value));
          committedAtA.incrementAndGet();
        } catch (RuntimeException e) {
          rolledBackAtA.incrementAndGet(); // handed over while the transaction ran
        }
      }
    }, "writer-at-a");
    Thread requesterAtC = new Thread(() -> {
      int n = 0;
      while (running.get() && n < 200) {
        int value = ++n;
        CompletableFuture<Item> f = c.entanglement().update(Item.class, item.getId(), i -> i.setName("c-" + value));
        synchronized (requests) {
          requests.add(f);
        }
        requestedFromC.incrementAndGet();
        try {
          f.get(20, TimeUnit.SECONDS);
        } catch (Exception e) {
          // conflicts while ownership moves are expected; the outcome is checked below
        }
      }
    }, "requester-at-c");
    writerAtA.start();
    requesterAtC.start();
    await().atMost(Duration.ofSeconds(20)).until(() -> committedAtA.get() > 20 && requestedFromC.get() > 3);

    a.entanglement().transfer(Item.class, item.getId(), "c").get(20, TimeUnit.SECONDS);
    await().atMost(Duration.ofSeconds(20)).until(() -> requestedFromC.get() > 10);
    running.set(false);
    writerAtA.join(20_000);
    requesterAtC.join(30_000);
    System.out.printf("transfer under load: %d commits at a, %d rolled back at a, %d requests from c%n",
        committedAtA.get(), rolledBackAtA.get(), requestedFromC.get());

    for (TestNode node : List.of(a, b, c)) {
      await().alias(node.name() + " converged").atMost(Duration.ofSeconds(20)).until(() ->
          node.entanglement().ownerOf(Item.class, item.getId()).orElse("").equals("c")
              && same(node.find(Item.class, item.getId()), c.find(Item.class, item.getId())));
    }
    // no future ends silently: each completed with c's copy or failed with a typed reason
    synchronized (requests) {
      for (CompletableFuture<Item> f : requests) {
        assertThat(f).isDone();
        if (f.isCompletedExceptionally()) {
          assertThat(cause(f)).isInstanceOf(UpdateRequestException.class);
        }
      }
    }
    // after the hand-over the state is decided by c alone
    c.inTransaction(em -> em.find(Item.class, item.getId()).setQuantity(-1));
    await().atMost(Duration.ofSeconds(10)).until(() -> a.find(Item.class, item.getId()).getQuantity() == -1
        && b.find(Item.class, item.getId()).getQuantity() == -1);
  }

  private static boolean same(Item x, Item y) {
    return x != null && y != null && x.getQuantity() == y.getQuantity() && x.getName().equals(y.getName())
        && x.getVersion() == y.getVersion();
  }

  @Test
  void epochRules_aForgedTakeOverIsRejected_andAnOlderEpochIsStale() throws Exception {
    String address = "tr-probe-" + UUID.randomUUID();
    TestNode node = track(TestNode.builder("n", Database.H2, Item.class).listenInProcess(address).start());
    Item own = new Item("OWN", "n's own", 1);
    node.inTransaction(em -> em.persist(own));
    RecordingPeer peer = track(RecordingPeer.handshake(address, "p"));
    peer.request(100); // n's own object comes first; let every message through

    // a higher epoch does not let another node take an object this node never handed over
    Change forged = item(own.getId(), "q", 5, 1, "stolen");
    var refusal = peer.awaitAck(peer.sendChanges(forged)).getOutcomes(0);
    assertThat(refusal.getStatus()).isEqualTo(OutcomeStatus.REJECTED);
    assertThat(refusal.getReason()).isEqualTo(RejectReason.NOT_OWNER);
    assertThat(refusal.getMessage()).isEqualTo(("Item#%s is owned by this node ('n') and was not handed over to 'q'; "
        + "its epoch 1 cannot replace epoch 0").formatted(own.getId()));
    assertThat(node.find(Item.class, own.getId()).getName()).isEqualTo("n's own");

    // p's object moves to q (epoch 1); a late state of p's at epoch 0 is stale, whatever its serial
    UUID id = UUID.randomUUID();
    assertThat(peer.awaitAck(peer.sendChanges(item(id, "p", 1, 0, "p's"))).getOutcomes(0).getStatus())
        .isEqualTo(OutcomeStatus.APPLIED);
    assertThat(peer.awaitAck(peer.sendChanges(item(id, "q", 1, 1, "q's"))).getOutcomes(0).getStatus())
        .isEqualTo(OutcomeStatus.APPLIED);
    assertThat(peer.awaitAck(peer.sendChanges(item(id, "p", 9, 0, "late p"))).getOutcomes(0).getStatus())
        .isEqualTo(OutcomeStatus.ALREADY_CURRENT);
    assertThat(node.find(Item.class, id).getName()).isEqualTo("q's");
    assertThat(node.entanglement().ownerOf(Item.class, id)).contains("q");
    // and a plain change (same epoch) cannot move it on
    var takeover = peer.awaitAck(peer.sendChanges(item(id, "r", 2, 1, "r's"))).getOutcomes(0);
    assertThat(takeover.getReason()).isEqualTo(RejectReason.NOT_OWNER);
    assertThat(takeover.getMessage()).isEqualTo(("Item#%s is owned by 'q'; a change from 'r' cannot take it over "
        + "(a hand-over raises the ownership epoch, this change keeps epoch 1)").formatted(id));
  }

  private static Change item(UUID id, String owner, long serial, long epoch, String name) {
    return Change.newBuilder().setEntity("Item").setId(Value.newBuilder().setUuid(id.toString()))
        .setOwner(owner).setSerial(serial).setEpoch(epoch).setOperation(Operation.UPSERT)
        .addAttributes(Attribute.newBuilder().setName("code").setValue(Value.newBuilder().setText("X" + serial)))
        .addAttributes(Attribute.newBuilder().setName("name").setValue(Value.newBuilder().setText(name)))
        .addAttributes(Attribute.newBuilder().setName("quantity").setValue(Value.newBuilder().setInteger(1)))
        .addAttributes(Attribute.newBuilder().setName("version").setValue(Value.newBuilder().setInteger(0)))
        .build();
  }
}
