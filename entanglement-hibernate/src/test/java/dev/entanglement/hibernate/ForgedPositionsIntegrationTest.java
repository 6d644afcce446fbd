package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.SyncMarker;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Positions a peer claims are checked before they count: forged ones change nothing. */
class ForgedPositionsIntegrationTest {
  private TestNode node;
  private RecordingPeer probe;

  @AfterEach
  void close() {
    if (probe != null) {
      probe.close();
    }
    if (node != null) {
      node.close();
    }
  }

  private String start(Database database) {
    String address = "forged-" + UUID.randomUUID();
    node = TestNode.builder("a", database, Item.class).listenInProcess(address).start();
    node.inTransaction(em -> em.persist(new Item("OWN", "a's own", 1)));
    return address;
  }

  private static OwnerPosition position(String owner, long serial) {
    return OwnerPosition.newBuilder().setOwner(owner).setSerial(serial).build();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void helloClaimingAnImpossibleSerialOfThisNode_doesNotMoveItsSerials(Database database) {
    String address = start(database);
    probe = RecordingPeer.dial(address);
    probe.request(100);
    probe.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName("probe")
        .addOwners(position("a", Long.MAX_VALUE))).build());
    // it gets everything again, with a sweep
    await().atMost(Duration.ofSeconds(10)).until(() -> probe.received().stream()
        .anyMatch(e -> e.hasSyncMarker() && e.getSyncMarker().getKind() == SyncMarker.Kind.FULL_SYNC_START));

    node.inTransaction(em -> em.persist(new Item("NEXT", "after the forged hello", 2)));
    // serials go on from where they were: not from the claimed one (which overflowed them to negative)
    Number lowest = (Number) node.sql("SELECT MIN(serial) FROM entanglement_object WHERE owner_node = 'a'");
    Number highest = (Number) node.sql("SELECT MAX(serial) FROM entanglement_object WHERE owner_node = 'a'");
    assertThat(lowest.longValue()).isEqualTo(1L);
    assertThat(highest.longValue()).isEqualTo(2L);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void batchPositionsOfThisNodeOrInvalidOwnersOrImpossibleSerials_areNotStored(Database database) {
    String address = start(database);
    probe = RecordingPeer.handshake(address, "probe");
    probe.request(100); // the node's catch-up of its own object comes first
    long id = 77;
    probe.send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(id)
        .addPositions(position("a", 1_000_000))
        .addPositions(position("", 5))
        .addPositions(position("bad name\n", 5))
        .addPositions(position("x", Long.MAX_VALUE))
        .addPositions(position("probe", 3))).build());
    probe.awaitAck(id);
    assertThat(node.table("entanglement_owner_position")).singleElement().asString().contains("probe").contains("3");
  }
}
