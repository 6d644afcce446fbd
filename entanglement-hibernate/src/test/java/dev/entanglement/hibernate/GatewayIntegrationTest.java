package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.Value;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Nodes relaying between peers that are not connected: loops (a triangle, a ring) apply every
 * object once per node without rejections, a peer cannot speak for an owner that is connected
 * directly, and a removed owner's objects disappear everywhere.
 */
class GatewayIntegrationTest {
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

  /** Nodes named n0..n(k-1), each listening, node i dialing node i+1 (and the last the first if closed). */
  private List<TestNode> ring(int size, String prefix) {
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      addresses.add(prefix + i + "-" + UUID.randomUUID());
    }
    List<TestNode> nodes = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      nodes.add(track(TestNode.builder("n" + i, Database.H2, Item.class).listenInProcess(addresses.get(i))
          .peers("inprocess:" + addresses.get((i + 1) % size)).start()));
    }
    for (int i = 0; i < size; i++) {
      nodes.get(i).awaitConnected("n" + ((i + 1) % size));
    }
    return nodes;
  }

  private static void loopRound(List<TestNode> nodes, int perNode) {
    int total = nodes.size() * perNode;
    for (TestNode node : nodes) {
      node.inTransaction(em -> {
        for (int i = 0; i < perNode; i++) {
          em.persist(new Item(node.name() + "-" + i, "new", i));
        }
      });
    }
    awaitQuiet(nodes, total, "new");
    assertApplied(nodes, total - perNode); // each other node's objects, once
    for (TestNode node : nodes) {
      node.inTransaction(em -> em.createQuery("from Item where code like :prefix", Item.class)
          .setParameter("prefix", node.name() + "-%").getResultList().forEach(item -> item.setName("updated")));
    }
    awaitQuiet(nodes, total, "updated");
    assertApplied(nodes, 2L * (total - perNode)); // and each update once
  }

  private static void awaitQuiet(List<TestNode> nodes, int total, String name) {
    for (TestNode node : nodes) {
      await().alias(node.name() + " converged").atMost(Duration.ofSeconds(30)).until(() ->
          node.all(Item.class).size() == total && node.all(Item.class).stream().allMatch(i -> i.getName().equals(name)));
    }
    for (TestNode node : nodes) {
      for (TestNode peer : nodes) {
        if (peer != node && peer.status(node.name()) != null) {
          peer.awaitCaughtUp(node.name());
        }
      }
    }
  }

  private static void assertApplied(List<TestNode> nodes, long expected) {
    for (TestNode node : nodes) {
      long applied = node.entanglement().peers().stream().mapToLong(PeerStatus::changesAppliedHere).sum();
      long rejected = node.entanglement().peers().stream().mapToLong(PeerStatus::changesRejectedHere).sum();
      long rejectedByPeers = node.entanglement().peers().stream().mapToLong(PeerStatus::changesRejectedByPeer).sum();
      assertThat(applied).as("applies at " + node.name()).isEqualTo(expected);
      assertThat(rejected).as("rejections at " + node.name()).isZero();
      assertThat(rejectedByPeers).as("rejections of " + node.name() + "'s sends").isZero();
    }
  }

  @Test
  void triangle_everyObjectAppliedOncePerNode_noRejections() {
    List<TestNode> nodes = ring(3, "gw-tri-");
    loopRound(nodes, 20);
  }

  @Test
  void ringOfFour_everyObjectAppliedOncePerNode_noRejections() {
    List<TestNode> nodes = ring(4, "gw-ring-");
    loopRound(nodes, 15);
  }

  @Test
  void aPeerCannotSpeakForAnOwnerConnectedDirectly() {
    String address = "gw-imp-" + UUID.randomUUID();
    TestNode node = track(TestNode.builder("n", Database.H2, Item.class).listenInProcess(address).start());
    RecordingPeer owner = track(RecordingPeer.handshake(address, "p"));
    RecordingPeer impostor = track(RecordingPeer.handshake(address, "q"));
    owner.request(1000);
    impostor.request(1000);
    UUID id = UUID.randomUUID();
    var forged = impostor.awaitAck(impostor.sendChanges(item(id, "p", 1, "forged by q"))).getOutcomes(0);
    assertThat(forged.getStatus()).as("ignored, not applied and not an error").isEqualTo(OutcomeStatus.ALREADY_CURRENT);
    assertThat(node.find(Item.class, id)).isNull();

    assertThat(owner.awaitAck(owner.sendChanges(item(id, "p", 1, "by p"))).getOutcomes(0).getStatus())
        .isEqualTo(OutcomeStatus.APPLIED);
    assertThat(node.find(Item.class, id).getName()).isEqualTo("by p");

    // with p away, q is a legitimate relay of p's objects
    owner.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> !node.entanglement().connectedPeers().contains("p"));
    assertThat(impostor.awaitAck(impostor.sendChanges(item(id, "p", 2, "relayed by q"))).getOutcomes(0).getStatus())
        .isEqualTo(OutcomeStatus.APPLIED);
  }

  @Test
  void removedOwner_itsObjectsDisappearEverywhere_andItsChangesAreRefused() throws Exception {
    String addressA = "gw-rm-a-" + UUID.randomUUID();
    String addressB = "gw-rm-b-" + UUID.randomUUID();
    TestNode a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(addressA).start());
    TestNode b = track(TestNode.builder("b", Database.H2, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA).start());
    TestNode c = track(TestNode.builder("c", Database.H2, Item.class).peers("inprocess:" + addressB).start());
    a.awaitConnected("b");
    c.awaitConnected("b");
    a.inTransaction(em -> {
      for (int i = 0; i < 5; i++) {
        em.persist(new Item("A" + i, "a's", i));
      }
    });
    c.inTransaction(em -> em.persist(new Item("C0", "c's", 0)));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.all(Item.class).size() == 6 && b.all(Item.class).size() == 6);

    assertThat(c.entanglement().removeOwner("a").get(10, TimeUnit.SECONDS)).isEqualTo(5);
    await().atMost(Duration.ofSeconds(10)).until(() -> b.all(Item.class).size() == 1 && c.all(Item.class).size() == 1);
    assertThat(b.all(Item.class).get(0).getCode()).isEqualTo("C0");

    a.inTransaction(em -> em.persist(new Item("A9", "after removal", 9)));
    await().atMost(Duration.ofSeconds(10)).until(() ->
        b.entanglement().peers().stream().anyMatch(p -> "a".equals(p.name()) && p.changesRejectedHere() > 0));
    assertThat(b.all(Item.class)).hasSize(1);
    assertThat(a.all(Item.class)).as("the removed node keeps its own database").hasSize(7);
  }

  /**
   * A relay may hold objects of an owner before it holds any position of that owner (the owner's
   * first batches carry none while its own position cannot move yet). A peer that arrives then
   * must still get those objects: its catch-up covers every owner the relay holds objects of, not
   * only the owners it has positions for, and the owner's position never reaches the peer first.
   */
  @Test
  void peerArrivingWhileTheRelayHoldsAnOwnersObjectsButNoPositionYet_getsThemBeforeThePosition() {
    String addressB = "gw-nopos-b-" + UUID.randomUUID();
    TestNode b = track(TestNode.builder("b", Database.H2, Item.class).listenInProcess(addressB).start());
    RecordingPeer c = track(RecordingPeer.handshake(addressB, "c"));
    c.request(1000);
    UUID id = UUID.randomUUID();
    assertThat(c.awaitAck(c.sendChanges(item(id, "c", 1, "before a arrived"))).getOutcomes(0).getStatus())
        .isEqualTo(OutcomeStatus.APPLIED);
    assertThat(b.table("entanglement_owner_position")).as("b holds c's object, but no position of c").isEmpty();

    TestNode a = track(TestNode.builder("a", Database.H2, Item.class).peers("inprocess:" + addressB).start());
    a.awaitConnected("b");
    b.awaitConnected("a");
    long positions = 9_000;
    c.send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder()
        .setRequestId(positions).addPositions(OwnerPosition.newBuilder()
            .setOwner("c").setSerial(1))).build());
    c.awaitAck(positions);

    await().alias("a's position of c").atMost(Duration.ofSeconds(10))
        .until(() -> a.sql("SELECT COUNT(*) FROM entanglement_owner_position WHERE owner_node = 'c' AND serial >= 1"),
            count -> ((Number) count).longValue() == 1);
    assertThat(a.find(Item.class, id)).as("a holds c's object once its position of c passes it").isNotNull();
  }

  private static Change item(UUID id, String owner, long serial, String name) {
    return Change.newBuilder().setEntity("Item").setId(Value.newBuilder().setUuid(id.toString()))
        .setOwner(owner).setSerial(serial).setOperation(Operation.UPSERT)
        .addAttributes(Attribute.newBuilder().setName("code").setValue(Value.newBuilder().setText("I" + id)))
        .addAttributes(Attribute.newBuilder().setName("name").setValue(Value.newBuilder().setText(name)))
        .addAttributes(Attribute.newBuilder().setName("quantity").setValue(Value.newBuilder().setInteger(1)))
        .addAttributes(Attribute.newBuilder().setName("version").setValue(Value.newBuilder().setInteger(0)))
        .build();
  }
}
