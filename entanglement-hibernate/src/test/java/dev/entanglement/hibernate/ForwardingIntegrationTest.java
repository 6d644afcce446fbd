package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.ManualClock;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.RequestStatus;
import dev.entanglement.proto.v1.UpdateRequest;
import dev.entanglement.proto.v1.Value;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A node never writes another node's object: its change travels as an update request to the
 * owner (through the middle node of a line), the owner decides, the result floods back, and the
 * requester's future completes with it or fails with the typed reason.
 */
class ForwardingIntegrationTest {
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

  private TestNode a;
  private TestNode b;
  private TestNode c;

  /** a - b - c, a and c not connected. */
  private void line(Database database) {
    String addressA = "fw-a-" + UUID.randomUUID();
    String addressB = "fw-b-" + UUID.randomUUID();
    a = track(TestNode.builder("a", database, Item.class).listenInProcess(addressA)
        .set("hibernate.hbm2ddl.auto", "update").start());
    b = track(TestNode.builder("b", database, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA).start());
    c = track(TestNode.builder("c", database, Item.class).peers("inprocess:" + addressB)
        .set(EntanglementSettings.REQUEST_LIFETIME, "15s").start());
    a.awaitConnected("b");
    c.awaitConnected("b");
  }

  private Item ownedByA(String code) {
    Item item = new Item(code, "at a", 1);
    a.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> c.find(Item.class, item.getId()) != null);
    return item;
  }

  private static Throwable cause(CompletableFuture<?> future) {
    assertThatThrownBy(() -> future.get(15, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
    try {
      future.get();
      throw new AssertionError("not failed");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void updateCreateDelete_fromTheFarEnd_reachTheOwnerAndComeBack(Database database) throws Exception {
    line(database);
    Item item = ownedByA("FW1");
    assertThat(c.entanglement().ownerOf(Item.class, item.getId())).contains("a");

    Item updated = c.entanglement().update(Item.class, item.getId(), i -> i.setQuantity(7)).get(15, TimeUnit.SECONDS);
    assertThat(updated.getQuantity()).isEqualTo(7);
    assertThat(updated.getVersion()).isEqualTo(1);
    assertThat(a.find(Item.class, item.getId()).getQuantity()).isEqualTo(7);
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, item.getId()).getQuantity() == 7);

    Item created = c.entanglement().create(new Item("FW2", "made for a", 2), "a").get(15, TimeUnit.SECONDS);
    assertThat(created.getName()).isEqualTo("made for a");
    assertThat(a.find(Item.class, created.getId())).isNotNull();
    assertThat(c.entanglement().ownerOf(Item.class, created.getId())).contains("a");

    c.entanglement().delete(Item.class, item.getId()).get(15, TimeUnit.SECONDS);
    assertThat(a.find(Item.class, item.getId())).isNull();
    assertThat(c.find(Item.class, item.getId())).isNull();
  }

  @Test
  void changeInAnOrdinaryTransaction_isNotWrittenLocally_butRequested() {
    line(Database.H2);
    Item item = ownedByA("FW3");
    c.inTransaction(em -> em.find(Item.class, item.getId()).setName("asked by c"));
    // c's own write was vetoed: its database changes only when a's result arrives
    await().atMost(Duration.ofSeconds(10)).until(() -> "asked by c".equals(a.find(Item.class, item.getId()).getName()));
    await().atMost(Duration.ofSeconds(10)).until(() -> "asked by c".equals(c.find(Item.class, item.getId()).getName()));
    assertThat(c.sql("select owner_node from entanglement_object where object_id = '" + item.getId() + "'")).isEqualTo("a");
  }

  @Test
  void refusedNotFoundAndConflict_failWithTypedExceptions() {
    line(Database.H2);
    Item item = ownedByA("FW4");
    ownedByA("TAKEN");
    Throwable refused = cause(c.entanglement().update(Item.class, item.getId(), i -> i.setName(null)).thenApply(i -> i)
        .thenCompose(i -> c.entanglement().create(new Item("TAKEN", "dup", 1), "a")));
    assertThat(refused).isInstanceOf(UpdateRequestException.Refused.class);
    assertThat(((UpdateRequestException.Refused) refused).reason()).isEqualTo(RefusalReason.CONSTRAINT_VIOLATION);
    assertThat(refused.getMessage()).startsWith("the owner 'a' refused Item#");

    // a removes its row behind the plugin's back: the request finds nothing
    a.inTransaction(em -> em.createNativeQuery("delete from Item where id = ?").setParameter(1, item.getId()).executeUpdate());
    Throwable notFound = cause(c.entanglement().update(Item.class, item.getId(), i -> i.setQuantity(3)));
    assertThat(notFound).isInstanceOf(UpdateRequestException.NotFound.class)
        .hasMessage("Item#" + item.getId() + " does not exist at its owner 'a'");

    Item versioned = ownedByA("FW5");
    a.inTransaction(em -> em.createNativeQuery("update Item set version = 5 where id = ?")
        .setParameter(1, versioned.getId()).executeUpdate());
    Throwable conflict = cause(c.entanglement().update(Item.class, versioned.getId(), i -> i.setQuantity(3)));
    assertThat(conflict).isInstanceOf(UpdateRequestException.Conflict.class)
        .hasMessage("Item#" + versioned.getId() + " changed at its owner 'a' since the version the request "
            + "was made from (0, now 5)");
  }

  /** (Before durable requests: the timeout was 8 s of real time, and the message said "within 8000 ms".) */
  @Test
  void ownerUnreachable_failsAtTheEndOfItsLifetime_andPendingRequestsMergeMeanwhile() throws Exception {
    String address = "fw-pair-" + UUID.randomUUID();
    TestNode.Builder ownerBuilder = TestNode.builder("a", Database.H2, Item.class).listenInProcess(address)
        .set("hibernate.hbm2ddl.auto", "update");
    TestNode owner = ownerBuilder.start();
    ManualClock clock = new ManualClock();
    TestNode requester = track(TestNode.builder("c", Database.H2, Item.class).peers("inprocess:" + address)
        .clock(clock)
        .set(EntanglementSettings.REQUEST_LIFETIME, "8s")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "100").start());
    requester.awaitConnected("a");
    Item item = new Item("FW6", "x", 1);
    owner.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> requester.find(Item.class, item.getId()) != null);
    owner.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> requester.entanglement().connectedPeers().isEmpty());

    CompletableFuture<Item> expiring = requester.entanglement().update(Item.class, item.getId(), i -> i.setQuantity(2));
    clock.advance(Duration.ofSeconds(9));
    Throwable unreachable = cause(expiring);
    assertThat(unreachable).isInstanceOf(UpdateRequestException.OwnerUnreachable.class)
        .hasMessageStartingWith("owner 'a' was last reachable via peer 'a' until ")
        .hasMessageEndingWith("; no link leads to it now; the update request for Item#" + item.getId()
            + " was not sent within 8s");

    // two partial updates while the owner is away: one request with both when it is back
    CompletableFuture<Item> name = requester.entanglement().update(Item.class, item.getId(), i -> i.setName("merged"));
    CompletableFuture<Item> quantity = requester.entanglement().update(Item.class, item.getId(), i -> i.setQuantity(9));
    TestNode owner2 = track(ownerBuilder.start());
    Item first = name.get(15, TimeUnit.SECONDS);
    Item second = quantity.get(15, TimeUnit.SECONDS);
    assertThat(first.getName()).isEqualTo("merged");
    assertThat(second.getQuantity()).isEqualTo(9);
    assertThat(owner2.find(Item.class, item.getId()).getVersion()).as("one request, one new version").isEqualTo(1);
  }

  /**
   * (Before durable requests the future failed with ConnectionLost when the stream dropped; now
   * the request is sent again, with the same key, once the owner is back.)
   */
  @Test
  void connectionDroppedMidRequest_isSentAgainWithTheSameKey_andOwnershipRulesAreEnforced() throws Exception {
    String address = "fw-probe-" + UUID.randomUUID();
    TestNode node = track(TestNode.builder("c", Database.H2, Item.class).listenInProcess(address).start());
    RecordingPeer owner = track(RecordingPeer.handshake(address, "p"));
    UUID id = UUID.randomUUID();
    Change change = Change.newBuilder().setEntity("Item").setId(Value.newBuilder().setUuid(id.toString()))
        .setOwner("p").setSerial(1).setOperation(Operation.UPSERT)
        .addAttributes(Attribute.newBuilder().setName("code").setValue(Value.newBuilder().setText("P1")))
        .addAttributes(Attribute.newBuilder().setName("quantity").setValue(Value.newBuilder().setInteger(1)))
        .addAttributes(Attribute.newBuilder().setName("version").setValue(Value.newBuilder().setInteger(0)))
        .build();
    assertThat(owner.awaitAck(owner.sendChanges(change)).getOutcomes(0).getStatus()).isEqualTo(OutcomeStatus.APPLIED);

    // a plain change cannot move an object to another owner
    Change takeover = change.toBuilder().setOwner("q").setSerial(2).build();
    var ack = owner.awaitAck(owner.sendChanges(takeover)).getOutcomes(0);
    assertThat(ack.getReason()).isEqualTo(RejectReason.NOT_OWNER);
    assertThat(ack.getMessage()).isEqualTo("Item#" + id + " is owned by 'p'; a change from 'q' cannot take it over "
        + "(a hand-over raises the ownership epoch, this change keeps epoch 0)");

    // a request for p's object coming from p's own direction: the directories disagree while they
    // converge, so the answer is not final and the origin sends it again
    owner.request(10);
    owner.send(Envelope.newBuilder().setUpdateRequest(UpdateRequest.newBuilder().setRequestId(77).setOrigin("p")
        .setKind(RequestKind.UPDATE).setEntity("Item").setId(change.getId()).setOwner("p")).build());
    RequestOutcome refusal = await().atMost(Duration.ofSeconds(10)).until(() -> outcome(owner, 77), o -> o != null);
    assertThat(refusal.getStatus()).isEqualTo(RequestStatus.UNREACHABLE);
    assertThat(refusal.getMessage()).contains("from the owner's own direction (peer 'p') while routes converge");

    // c asks p; p never answers and drops the stream
    CompletableFuture<Item> asked = node.entanglement().update(Item.class, id, i -> i.setQuantity(5));
    await().atMost(Duration.ofSeconds(10)).until(() -> owner.changes().isEmpty() && requestReceived(owner));
    UpdateRequest first = owner.received().stream().filter(Envelope::hasUpdateRequest).findFirst().orElseThrow()
        .getUpdateRequest();
    owner.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> node.entanglement().pendingRequests().stream().anyMatch(r ->
        r.sent() && ("the connection to peer 'p' ended before owner 'p' answered").equals(r.lastError())));
    assertThat(asked).as("not final: sent again when p is back").isNotDone();

    RecordingPeer back = track(RecordingPeer.handshake(address, "p"));
    await().atMost(Duration.ofSeconds(10)).until(() -> requestReceived(back));
    UpdateRequest again = back.received().stream().filter(Envelope::hasUpdateRequest).findFirst().orElseThrow()
        .getUpdateRequest();
    assertThat(again.getRequestKey()).isEqualTo(first.getRequestKey()).isNotEmpty();
    back.send(Envelope.newBuilder().setRequestOutcome(RequestOutcome.newBuilder().setRequestId(again.getRequestId())
        .setStatus(RequestStatus.NOT_FOUND).setMessage("gone at p")).build());
    assertThat(cause(asked)).isInstanceOf(UpdateRequestException.NotFound.class).hasMessage("gone at p");
    assertThat(node.find(Item.class, id).getQuantity()).as("nothing written at the requester").isEqualTo(1);
  }

  private static RequestOutcome outcome(RecordingPeer peer, long id) {
    return peer.received().stream().filter(Envelope::hasRequestOutcome).map(Envelope::getRequestOutcome)
        .filter(o -> o.getRequestId() == id).findFirst().orElse(null);
  }

  private static boolean requestReceived(RecordingPeer peer) {
    peer.request(1);
    return peer.received().stream().anyMatch(Envelope::hasUpdateRequest);
  }
}
