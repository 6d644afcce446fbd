package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.IncomingObject;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policies;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Memo;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Policies at every level (peer, entity type, object) and stage (send; receive on the message,
 * then on the constructed object), in the documented order, with denials answered in-band and
 * counted; and decisions that change at run time withdraw and re-grant objects.
 */
class PolicyIntegrationTest {
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @BeforeEach
  void reset() {
    Memo.CALLS.clear();
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

  /** a listens; the peers given dial it. */
  private TestNode node(String name, String listen, String peers, Object policy) {
    TestNode.Builder builder = TestNode.builder(name, Database.H2, Item.class, Memo.class);
    if (listen != null) {
      builder.listenInProcess(listen);
    }
    if (peers != null) {
      builder.peers("inprocess:" + peers);
    }
    if (policy != null) {
      builder.set(EntanglementSettings.POLICY, policy);
    }
    return track(builder.start());
  }

  @Test
  void aSendRuleThatReadsTheState_decidesOnTheStateBeingSent_withoutReadingItsRow() throws Exception {
    List<Integer> quantitiesSeen = new CopyOnWriteArrayList<>();
    Policy readsState = new Policy() {
      @Override
      public Decision send(Peer peer, ObjectRef object) {
        Item item = (Item) object.entity();
        quantitiesSeen.add(item.getQuantity());
        return Decision.allowIf(item.getQuantity() >= 0, "negative quantity");
      }
    };
    TestNode.Builder builderA = TestNode.builder("a", Database.H2, Item.class, Memo.class)
        .listenInProcess("reads-state-a").set(EntanglementSettings.POLICY, readsState);
    var connections = builderA.countConnections();
    TestNode a = track(builderA.start());
    TestNode b = node("b", null, "reads-state-a", null);
    a.awaitCaughtUp("b");

    long borrowedBefore = connections.borrowed();
    a.inTransaction(em -> {
      for (int i = 0; i < 40; i++) {
        em.persist(new Item("state-" + i, "item " + i, i));
      }
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> b.all(Item.class).size() == 40);
    a.awaitCaughtUp("b");

    assertThat(quantitiesSeen).as("the rule read each state sent").hasSize(40)
        .containsExactlyInAnyOrderElementsOf(java.util.stream.IntStream.range(0, 40).boxed().toList());
    // the commit borrows one connection; a read of each row to decide would borrow 40 more
    assertThat(connections.borrowed() - borrowedBefore).as("connections borrowed by the commit and its sends")
        .isLessThan(10);
  }

  @Test
  void sendSide_peerLevelTypeLevelAndObjectLevel_denyWhatTheySay_andNothingDeniedIsOnTheWire() throws Exception {
    String address = "pol-send-" + UUID.randomUUID();
    List<String> calls = new CopyOnWriteArrayList<>();
    Policy nodePolicy = new Policy() {
      @Override
      public Decision sendToPeer(Peer peer) {
        calls.add("node sendToPeer " + peer.name());
        return Decision.denyIf(peer.name().equals("outsider"), "outsiders get nothing");
      }

      @Override
      public Decision send(Peer peer, ObjectRef object) {
        calls.add("node send " + object.id());
        return object.entityType() == Item.class && ((Item) object.entity()).getQuantity() > 100
            ? Decision.deny("large stocks are not shared") : Decision.abstain();
      }
    };
    TestNode a = node("a", address, null, nodePolicy);
    TestNode b = node("b", null, address, null);
    RecordingPeer outsider = track(RecordingPeer.handshake(address, "outsider"));
    outsider.request(1000);
    b.awaitConnected("a");

    Item small = new Item("S", "small", 5);
    Item large = new Item("L", "large", 500);
    a.inTransaction(em -> {
      em.persist(small);
      em.persist(large);
      em.persist(new Memo(1, "public memo", false));
      em.persist(new Memo(2, "secret memo", true));
    });
    a.awaitCaughtUp("b");
    assertThat(b.find(Item.class, small.getId())).isNotNull();
    assertThat(b.find(Item.class, large.getId())).as("object-level send denial").isNull();
    assertThat(b.find(Memo.class, 1L)).isNotNull();
    assertThat(b.find(Memo.class, 2L)).as("type-level send denial").isNull();
    // the outsider got no change at all: the peer-level denial comes first
    assertThat(outsider.changes()).isEmpty();
    // the type's policy is asked before the node's, and only for peers the node sends to
    assertThat(Memo.CALLS).contains("type send 2").doesNotContain("type send 2 outsider");
    int typeCall = calls.indexOf("node send 2");
    assertThat(typeCall).isGreaterThanOrEqualTo(0);
    // counted per peer, direction and check (a bounded set); the reasons are in the log
    assertThat(a.entanglement().policyDenials()).extracting(PolicyDenial::peer, PolicyDenial::direction,
            PolicyDenial::check, PolicyDenial::count)
        .contains(tuple("b", PolicyDenial.Direction.SEND, PolicyDenial.Check.SEND, 2L));
    assertThat(a.entanglement().policyDenials()).extracting(PolicyDenial::peer, PolicyDenial::lastReason)
        .contains(tuple("outsider", "outsiders get nothing"));
  }

  @Test
  void receiveSide_peerMessageAndObjectStages_denyInBandWithTheReason_inTheDocumentedOrder() {
    String address = "pol-recv-" + UUID.randomUUID();
    List<String> calls = new CopyOnWriteArrayList<>();
    Policy policy = new Policy() {
      @Override
      public Decision receiveFromPeer(Peer peer) {
        calls.add("peer " + peer.name());
        return Decision.denyIf(peer.name().equals("banned"), "peer 'banned' is not trusted");
      }

      @Override
      public Decision receiveMessage(Peer peer, IncomingMessage message) {
        calls.add("message " + message.kind() + " " + message.attributeNames().contains("localNote"));
        return Decision.denyIf(message.attributeNames().contains("name") && message.idText().startsWith("0"),
            "ids starting with 0 are reserved");
      }

      @Override
      public Decision receiveObject(Peer peer, IncomingObject object) {
        calls.add("object");
        Item incoming = (Item) object.incoming();
        Item stored = (Item) object.stored();
        return Decision.denyIf(stored != null && incoming.getQuantity() < stored.getQuantity(),
            "stock may not shrink (%d -> %d)".formatted(stored == null ? 0 : stored.getQuantity(), incoming.getQuantity()));
      }
    };
    TestNode node = node("n", address, null, policy);
    RecordingPeer p = track(RecordingPeer.handshake(address, "p"));
    p.request(1000);
    UUID id = UUID.fromString("10000000-0000-0000-0000-000000000001");
    assertThat(status(p, item(id, 1, 10))).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(calls).containsExactly("peer p", "message UPSERT false", "object");

    // object stage: compares with the stored state; nothing written
    var shrink = p.awaitAck(p.sendChanges(item(id, 2, 3))).getOutcomes(0);
    assertThat(shrink.getReason()).isEqualTo(RejectReason.POLICY);
    assertThat(shrink.getMessage()).isEqualTo("stock may not shrink (10 -> 3)");
    assertThat(node.find(Item.class, id).getQuantity()).isEqualTo(10);

    // message stage: denied before anything is constructed, so the object stage is not asked
    calls.clear();
    UUID reserved = UUID.fromString("00000000-0000-0000-0000-000000000002");
    var early = p.awaitAck(p.sendChanges(item(reserved, 3, 1))).getOutcomes(0);
    assertThat(early.getReason()).isEqualTo(RejectReason.POLICY);
    assertThat(early.getMessage()).isEqualTo("ids starting with 0 are reserved");
    assertThat(calls).containsExactly("peer p", "message UPSERT false");
    assertThat(node.find(Item.class, reserved)).isNull();

    // peer level: denied before the message is looked at
    RecordingPeer banned = track(RecordingPeer.handshake(address, "banned"));
    banned.request(1000);
    calls.clear();
    var refused = banned.awaitAck(banned.sendChanges(item(UUID.randomUUID(), 1, 1).toBuilder().setOwner("banned").build()))
        .getOutcomes(0);
    assertThat(refused.getStatus()).isEqualTo(OutcomeStatus.REJECTED);
    assertThat(refused.getMessage()).isEqualTo("peer 'banned' is not trusted");
    assertThat(calls).containsExactly("peer banned");
    assertThat(node.entanglement().policyDenials()).filteredOn(d -> d.peer().equals("p"))
        .allSatisfy(d -> assertThat(d.direction()).isEqualTo(PolicyDenial.Direction.RECEIVE))
        .extracting(PolicyDenial::count).containsOnly(1L);
    assertThat(node.entanglement().policyDenials()).filteredOn(d -> d.peer().equals("p"))
        .extracting(PolicyDenial::lastReason)
        .containsExactlyInAnyOrder("stock may not shrink (10 -> 3)", "ids starting with 0 are reserved");
    assertThat(node.entanglement().policyDenials()).contains(new PolicyDenial("banned", PolicyDenial.Direction.RECEIVE,
        PolicyDenial.Check.RECEIVE_MESSAGE, 1, "peer 'banned' is not trusted"));
    assertThat(node.entanglement().parkedChanges()).as("policy denials are final, not parked").isZero();
  }

  @Test
  void updateRequest_deniedByTheOwnersPolicy_failsWithTheReason() throws Exception {
    String address = "pol-req-" + UUID.randomUUID();
    Policy noRenames = new Policy() {
      @Override
      public Decision receiveObject(Peer peer, IncomingObject object) {
        Item incoming = (Item) object.incoming();
        Item stored = (Item) object.stored();
        return Decision.denyIf(object.message().isRequest() && stored != null
            && !stored.getName().equals(incoming.getName()), "'" + peer.name() + "' may not rename items");
      }
    };
    TestNode owner = node("owner", address, null, noRenames);
    TestNode asker = node("asker", null, address, null);
    Item item = new Item("R", "original", 1);
    owner.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> asker.find(Item.class, item.getId()) != null);

    var renamed = asker.entanglement().update(Item.class, item.getId(), i -> i.setName("renamed"));
    assertThatThrownBy(() -> renamed.get(15, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOf(UpdateRequestException.Refused.class).hasMessage("'asker' may not rename items");
    assertThat(owner.find(Item.class, item.getId()).getName()).isEqualTo("original");
    // other changes pass
    assertThat(asker.entanglement().update(Item.class, item.getId(), i -> i.setQuantity(4)).get(15, TimeUnit.SECONDS)
        .getQuantity()).isEqualTo(4);
  }

  @Test
  void policyChange_withdrawsObjectsFromAPeer_andGrantsThemAgain() {
    String address = "pol-flip-" + UUID.randomUUID();
    AtomicBoolean shareWithB = new AtomicBoolean(true);
    Policy flip = new Policy() {
      @Override
      public Decision send(Peer peer, ObjectRef object) {
        return Decision.denyIf(peer.name().equals("b") && !shareWithB.get(), "sharing with b is paused");
      }
    };
    TestNode a = node("a", address, null, Policies.all(flip));
    TestNode b = node("b", null, address, null);
    TestNode c = node("c", null, address, null);
    List<Item> items = new ArrayList<>();
    a.inTransaction(em -> {
      for (int i = 0; i < 5; i++) {
        Item item = new Item("W" + i, "item " + i, i);
        em.persist(item);
        items.add(item);
      }
    });
    await().atMost(Duration.ofSeconds(10)).until(() -> b.all(Item.class).size() == 5 && c.all(Item.class).size() == 5);

    shareWithB.set(false);
    a.entanglement().policyChanged();
    await().alias("withdrawn at b").atMost(Duration.ofSeconds(10)).until(() -> b.all(Item.class).isEmpty());
    assertThat(c.all(Item.class)).as("c is not affected").hasSize(5);
    // while withdrawn, changes do not reach b
    a.inTransaction(em -> em.find(Item.class, items.get(0).getId()).setName("changed while withdrawn"));
    await().atMost(Duration.ofSeconds(10)).until(() -> "changed while withdrawn".equals(c.find(Item.class, items.get(0).getId()).getName()));
    a.awaitCaughtUp("b");
    assertThat(b.all(Item.class)).isEmpty();

    shareWithB.set(true);
    a.entanglement().policyChanged();
    await().alias("granted again at b").atMost(Duration.ofSeconds(10)).until(() -> b.all(Item.class).size() == 5);
    assertThat(b.find(Item.class, items.get(0).getId()).getName()).isEqualTo("changed while withdrawn");
  }

  @Test
  void ownersVisibleTo_keepsAnOwnersObjectsBetweenTheNamedPeers() {
    Policy policy = Policies.ownersVisibleTo(Set.of("a"), Set.of("a", "b"));
    assertThat(policy.send(new Peer("c", null), ref("a")).reason()).isEqualTo("objects of [a] are not shared with 'c'");
    assertThat(policy.send(new Peer("b", null), ref("a")).isAbstain()).isTrue();
    assertThat(Decision.allow().and(Decision.deny("no")).reason()).isEqualTo("no");
    assertThat(Decision.abstain().orElse(Decision.allow()).isAllow()).isTrue();
    assertThat(Policies.firstApplicable(new Policy() {}, policy).send(new Peer("c", null), ref("a")).isDeny()).isTrue();
  }

  private static ObjectRef ref(String owner) {
    return new ObjectRef() {
      public Class<?> entityType() { return Item.class; }
      public String entityName() { return "Item"; }
      public Object id() { return 1; }
      public String owner() { return owner; }
      public boolean deleted() { return false; }
      public Object entity() { return null; }
    };
  }

  private static OutcomeStatus status(RecordingPeer peer, Change change) {
    return peer.awaitAck(peer.sendChanges(change)).getOutcomes(0).getStatus();
  }

  private static Change item(UUID id, long serial, int quantity) {
    return Change.newBuilder().setEntity("Item").setId(Value.newBuilder().setUuid(id.toString()))
        .setOwner("p").setSerial(serial).setOperation(Operation.UPSERT)
        .addAttributes(Attribute.newBuilder().setName("code").setValue(Value.newBuilder().setText("C" + id)))
        .addAttributes(Attribute.newBuilder().setName("name").setValue(Value.newBuilder().setText("n")))
        .addAttributes(Attribute.newBuilder().setName("quantity").setValue(Value.newBuilder().setInteger(quantity)))
        .addAttributes(Attribute.newBuilder().setName("version").setValue(Value.newBuilder().setInteger(0)))
        .build();
  }
}
