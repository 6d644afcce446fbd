package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Models;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.Value;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A full synchronization's sweep removes only objects of the owner it names, and never this
 * node's own objects: a peer (after a valid Hello) that ends a "full synchronization" of the
 * receiving node itself is refused with one logged warning, and nothing of the node is touched.
 */
class FullSyncSweepIntegrationTest {
  private TestNode node;
  private RecordingPeer probe;
  private LogCapture logs;

  private void start(Database database) {
    String address = "full-sync-sweep-" + UUID.randomUUID();
    node = TestNode.builder("a", database, Models.ALL).listenInProcess(address).start();
    probe = RecordingPeer.handshake(address, "probe");
    probe.request(1_000); // the node's own objects come to the probe too: room for them and the acks
  }

  @AfterEach
  void close() {
    if (logs != null) {
      logs.close();
    }
    if (probe != null) {
      probe.close();
    }
    if (node != null) {
      node.close();
    }
  }

  private static Attribute attribute(String name, Value value) {
    return Attribute.newBuilder().setName(name).setValue(value).build();
  }

  private static Change item(UUID id, String code, long serial) {
    return Change.newBuilder().setEntity("Item").setId(Value.newBuilder().setUuid(id.toString()))
        .setOwner("probe").setSerial(serial).setOperation(Operation.UPSERT)
        .addAttributes(attribute("code", Value.newBuilder().setText(code).build()))
        .addAttributes(attribute("name", Value.newBuilder().setText("thing " + code).build()))
        .addAttributes(attribute("quantity", Value.newBuilder().setInteger(1).build()))
        .addAttributes(attribute("version", Value.newBuilder().setInteger(0).build()))
        .build();
  }

  private void marker(SyncMarker.Kind kind, String owner, long serial, boolean sweep) {
    probe.send(Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder()
        .setKind(kind).setOwner(owner).setSerial(serial).setSweep(sweep)).build());
  }

  /**
   * Markers and batches of one peer are applied in order: once a batch sent after the markers is
   * answered, the markers have been handled.
   */
  private void awaitHandled(long serial) {
    UUID barrier = UUID.randomUUID();
    assertThat(probe.awaitAck(probe.sendChanges(item(barrier, "BARRIER-" + barrier, serial)))
        .getOutcomes(0).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void sweepNamingThisNode_isRefusedAndItsOwnObjectsSurvive(Database database) {
    start(database);
    List<Item> own = List.of(new Item("OWN-1", "mine", 1), new Item("OWN-2", "mine too", 2));
    node.inTransaction(em -> own.forEach(em::persist));
    logs = LogCapture.start();

    // without a start marker ("nothing received") and with one: both would sweep everything
    marker(SyncMarker.Kind.FULL_SYNC_END, "a", Long.MAX_VALUE / 2, true);
    marker(SyncMarker.Kind.FULL_SYNC_START, "a", 0, false);
    marker(SyncMarker.Kind.FULL_SYNC_END, "a", Long.MAX_VALUE / 2, true);
    awaitHandled(1);

    for (Item item : own) {
      assertThat(node.find(Item.class, item.getId())).as("own object %s", item.getCode()).isNotNull();
    }
    assertThat(node.sql("select count(*) from entanglement_object where owner_node = 'a' and deleted = true")
        .toString()).isEqualTo("0");
    assertThat(node.sql("select count(*) from entanglement_owner_position where owner_node = 'a'")
        .toString()).isEqualTo("0");
    assertThat(logs.warnings("'probe'", "full synchronization", "'a'", "this node's own objects"))
        .as("one warning for the peer's refused markers").hasSize(1);
    assertThat(probe.isOpen()).isTrue();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void sweepOfThePeersObjects_removesOnlyWhatWasNotReceived(Database database) {
    start(database);
    Item own = new Item("OWN", "mine", 1);
    node.inTransaction(em -> em.persist(own));
    UUID kept = UUID.randomUUID();
    UUID gone = UUID.randomUUID();
    assertThat(probe.awaitAck(probe.sendChanges(item(kept, "KEPT", 1), item(gone, "GONE", 2)))
        .getOutcomesList()).allMatch(o -> o.getStatus() == OutcomeStatus.APPLIED);

    marker(SyncMarker.Kind.FULL_SYNC_START, "probe", 0, false);
    probe.awaitAck(probe.sendChanges(item(kept, "KEPT", 1)));
    marker(SyncMarker.Kind.FULL_SYNC_END, "probe", 2, true);
    awaitHandled(3);

    assertThat(node.find(Item.class, kept)).isNotNull();
    assertThat(node.find(Item.class, gone)).isNull();
    assertThat(node.find(Item.class, own.getId())).isNotNull();
    assertThat(node.entanglement().connectedPeers()).containsExactly("probe");
  }
}
