package dev.entanglement.hibernate.internal.apply;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.Value;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A full synchronization's sweep and a newer state of the same object from another peer: the
 * sweep lists the object as stale (its serial is below the end marker's and it was not
 * received), then, before the sweep's delete transaction, a newer state (above the marker's
 * serial) is written. The sweep must keep it: the serial is checked again inside the delete
 * transaction. Within one node the apply lock orders the two; the seam writes the newer state
 * exactly between listing and deleting, through the real applier (its lock is re-entrant), as
 * a writer the lock does not cover would. Real Hibernate and database, no timing.
 */
class OwnerSweeperRaceTest {
  private TestNode node;

  @AfterEach
  void close() {
    if (node != null) {
      node.close();
    }
  }

  private static Attribute attribute(String name, Value value) {
    return Attribute.newBuilder().setName(name).setValue(value).build();
  }

  private static ChangeBatch item(UUID id, String name, long serial) {
    return ChangeBatch.newBuilder().addChanges(Change.newBuilder().setEntity("Item")
        .setId(Value.newBuilder().setUuid(id.toString())).setOwner("o").setSerial(serial)
        .setOperation(Operation.UPSERT)
        .addAttributes(attribute("code", Value.newBuilder().setText("C-" + id).build()))
        .addAttributes(attribute("name", Value.newBuilder().setText(name).build()))
        .addAttributes(attribute("quantity", Value.newBuilder().setInteger(1).build()))
        .addAttributes(attribute("version", Value.newBuilder().setInteger(0).build()))).build();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void sweepRacingANewerStateFromAnotherPeer_keepsTheNewerState(Database database) {
    node = TestNode.builder("x", database, Item.class).start();
    SessionFactoryImplementor factory = node.factory().unwrap(SessionFactoryImplementor.class);
    InboundApplier applier = new InboundApplier(factory, EntangledModel.scan(factory),
        Bookkeeping.forDialect(factory.getJdbcServices().getDialect()), "x");
    applier.load();
    UUID racing = UUID.randomUUID();
    UUID stale = UUID.randomUUID();
    assertThat(applier.apply("p1", item(racing, "old", 5)).getOutcomes(0).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(applier.apply("p1", item(stale, "gone at the owner", 6)).getOutcomes(0).getStatus())
        .isEqualTo(OutcomeStatus.APPLIED);

    // p1's full synchronization of 'o' through serial 10 received neither object; p2 brings
    // serial 12 of one of them after the sweep listed it
    boolean[] raced = {false};
    applier.sweeper().afterListing = () -> {
      raced[0] = true;
      assertThat(applier.apply("p2", item(racing, "newer", 12)).getOutcomes(0).getStatus())
          .isEqualTo(OutcomeStatus.APPLIED);
    };
    applier.endFullSync("p1", SyncMarker.newBuilder().setKind(SyncMarker.Kind.FULL_SYNC_END).setOwner("o")
        .setSerial(10).setSweep(true).build(), Set.of(), 0, List.of());

    assertThat(raced[0]).isTrue();
    assertThat(node.find(Item.class, stale)).as("the sweep ran: the stale object is gone").isNull();
    Item kept = node.find(Item.class, racing);
    assertThat(kept).as("the newer state written while the sweep ran").isNotNull();
    assertThat(kept.getName()).isEqualTo("newer");
    assertThat(node.sql("select serial from entanglement_object where object_id = '" + racing + "'").toString())
        .isEqualTo("12");
    assertThat(node.sql("select count(*) from entanglement_object where object_id = '" + racing
        + "' and deleted = true").toString()).isEqualTo("0");
  }
}
