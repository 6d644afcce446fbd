package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.NodePair;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.Transport;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Models;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Composite;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.Reference;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A peer sending bad changes gets an in-band rejection naming the problem; the node keeps the
 * stream, its database and its other work intact.
 */
class BadInputIntegrationTest {
  private TestNode node;
  private RecordingPeer probe;

  private void start(Database database) {
    String address = "bad-input-" + UUID.randomUUID();
    node = TestNode.builder("a", database, Models.ALL).listenInProcess(address).start();
    probe = RecordingPeer.handshake(address, "probe");
  }

  @AfterEach
  void close() {
    if (probe != null) {
      probe.close();
    }
    if (node != null) {
      node.close();
    }
  }

  private static Value text(String s) {
    return Value.newBuilder().setText(s).build();
  }

  private static Value integer(long i) {
    return Value.newBuilder().setInteger(i).build();
  }

  private static Value uuid(UUID id) {
    return Value.newBuilder().setUuid(id.toString()).build();
  }

  private static Attribute attribute(String name, Value value) {
    return Attribute.newBuilder().setName(name).setValue(value).build();
  }

  /** A well-formed new Item from owner "probe". */
  private static Change.Builder item(UUID id, String code, long serial) {
    return Change.newBuilder().setEntity("Item").setId(uuid(id)).setOwner("probe").setSerial(serial)
        .setOperation(Operation.UPSERT)
        .addAttributes(attribute("code", text(code)))
        .addAttributes(attribute("name", text("thing " + code)))
        .addAttributes(attribute("quantity", integer(1)))
        .addAttributes(attribute("version", integer(0)));
  }

  private Outcome only(Ack ack) {
    assertThat(ack.getOutcomesList()).hasSize(1);
    return ack.getOutcomes(0);
  }

  private void assertRejected(Change change, RejectReason reason, String message) {
    Outcome outcome = only(probe.awaitAck(probe.sendChanges(change)));
    assertThat(outcome.getStatus()).isEqualTo(OutcomeStatus.REJECTED);
    assertThat(outcome.getReason()).isEqualTo(reason);
    assertThat(outcome.getMessage()).isEqualTo(message);
  }

  /** After any rejection the stream still works and the database holds exactly what was applied. */
  private void assertStillReplicating(int expectedItems) {
    UUID good = UUID.randomUUID();
    Outcome outcome = only(probe.awaitAck(probe.sendChanges(item(good, "GOOD-" + good, 100).build())));
    assertThat(outcome.getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(probe.isOpen()).isTrue();
    assertThat(node.find(Item.class, good)).isNotNull();
    assertThat(node.all(Item.class)).hasSize(expectedItems + 1);
    assertThat(node.entanglement().connectedPeers()).containsExactly("probe");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void malformedChanges_rejectedAsMalformed(Database database) {
    start(database);
    assertRejected(item(UUID.randomUUID(), "X", 1).setEntity("").build(),
        RejectReason.MALFORMED, "change without an entity name");
    assertRejected(item(UUID.randomUUID(), "X", 1).clearId().build(),
        RejectReason.MALFORMED, "change of Item without an id");
    assertRejected(item(UUID.randomUUID(), "X", 1).setOwner("").build(),
        RejectReason.MALFORMED, "change of Item without an owner");
    assertRejected(item(UUID.randomUUID(), "X", 1).setOperation(Operation.OPERATION_UNSPECIFIED).build(),
        RejectReason.MALFORMED, "change of Item with operation OPERATION_UNSPECIFIED; expected UPSERT, DELETE or WITHDRAW");
    assertRejected(item(UUID.randomUUID(), "X", 1).setId(text("not-a-uuid")).build(),
        RejectReason.WRONG_TYPE, "Item id expects a UUID (UUID), got text");
    assertStillReplicating(0);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void badOwnerNamesInABatch_rejectOnlyThemselves_andTheValidChangeIsAppliedAndAnswered(Database database) {
    start(database);
    UUID good = UUID.randomUUID();
    Ack ack = probe.awaitAck(probe.sendChanges(item(good, "OK", 1).build(),
        item(UUID.randomUUID(), "LONG", 2).setOwner("o".repeat(65)).build(),
        item(UUID.randomUUID(), "NEWLINE", 3).setOwner("evil\nname").build()));
    assertThat(ack.getOutcomesList()).extracting(Outcome::getStatus)
        .containsExactly(OutcomeStatus.APPLIED, OutcomeStatus.REJECTED, OutcomeStatus.REJECTED);
    assertThat(ack.getOutcomes(1).getReason()).isEqualTo(RejectReason.MALFORMED);
    assertThat(ack.getOutcomes(1).getMessage()).isEqualTo("change of Item with the owner name '%s' (65 characters); "
        .formatted("o".repeat(64)) + "expected 1 to 64 letters, digits, '.', '_' or '-'");
    assertThat(ack.getOutcomes(2).getMessage()).startsWith("change of Item with the owner name 'evil\\u000aname'");
    assertThat(node.find(Item.class, good)).isNotNull();
    assertThat(node.entanglement().parkedChanges()).isZero();
    assertStillReplicating(1);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void manyRejections_logOneBoundedWarningPerPeerAndReason(Database database) {
    start(database);
    try (LogCapture logs = LogCapture.start()) {
      String huge = "Spaceship" + "x".repeat(1_000_000);
      for (int i = 0; i < 20; i++) {
        Outcome outcome = only(probe.awaitAck(probe.sendChanges(item(UUID.randomUUID(), "X", 1).setEntity(huge).build())));
        assertThat(outcome.getReason()).isEqualTo(RejectReason.UNKNOWN_ENTITY);
        assertThat(outcome.getMessage()).hasSizeLessThan(200).endsWith("(1000009 characters)");
      }
      assertThat(logs.warnings("Rejected a change from peer 'probe'")).singleElement()
          .satisfies(line -> assertThat(line).hasSizeLessThan(1000));
    }
    assertStillReplicating(0);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void unknownEntityOrAttribute_rejected(Database database) {
    start(database);
    assertRejected(item(UUID.randomUUID(), "X", 1).setEntity("Spaceship").build(),
        RejectReason.UNKNOWN_ENTITY, "this node has no @Entangled entity named 'Spaceship'");
    assertRejected(item(UUID.randomUUID(), "X", 1).addAttributes(attribute("colour", text("red"))).build(),
        RejectReason.UNKNOWN_ATTRIBUTE, "entity Item has no replicated attribute 'colour'");
    assertRejected(item(UUID.randomUUID(), "X", 1).addAttributes(attribute("localNote", text("x"))).build(),
        RejectReason.UNKNOWN_ATTRIBUTE, "entity Item has no replicated attribute 'localNote'");
    assertStillReplicating(0);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void wrongAttributeTypes_rejectedNamingAttributeAndKinds(Database database) {
    start(database);
    assertRejected(item(UUID.randomUUID(), "X", 1).addAttributes(attribute("quantity", text("lots"))).build(),
        RejectReason.WRONG_TYPE, "Item.quantity expects an integer (int), got text");
    assertRejected(item(UUID.randomUUID(), "X", 1).addAttributes(attribute("quantity", integer(1L << 40))).build(),
        RejectReason.WRONG_TYPE, "Item.quantity is a int; 1099511627776 is out of its range");
    assertRejected(item(UUID.randomUUID(), "X", 1)
            .addAttributes(attribute("quantity", Value.newBuilder().setNull(true).build())).build(),
        RejectReason.WRONG_TYPE, "Item.quantity is a primitive int and cannot be null");
    assertRejected(item(UUID.randomUUID(), "X", 1).addAttributes(attribute("address", text("Main St"))).build(),
        RejectReason.WRONG_TYPE, "Item.address expects an embeddable, got text");
    assertRejected(item(UUID.randomUUID(), "X", 1).addAttributes(attribute("address",
            Value.newBuilder().setComposite(Composite.newBuilder()
                .addAttributes(attribute("city", integer(5)))).build())).build(),
        RejectReason.WRONG_TYPE, "Item.address.city expects text (String), got an integer");
    assertStillReplicating(0);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void constraintViolationAndMissingReference_rejectedAndNothingElseLost(Database database) {
    start(database);
    UUID first = UUID.randomUUID();
    Outcome applied = only(probe.awaitAck(probe.sendChanges(item(first, "SAME", 1).build())));
    assertThat(applied.getStatus()).isEqualTo(OutcomeStatus.APPLIED);

    // a second object with the same unique code, in a batch with a good change after it
    UUID duplicate = UUID.randomUUID();
    UUID fine = UUID.randomUUID();
    Ack ack = probe.awaitAck(probe.sendChanges(item(duplicate, "SAME", 2).build(), item(fine, "FINE", 3).build()));
    assertThat(ack.getOutcomes(0).getStatus()).isEqualTo(OutcomeStatus.REJECTED);
    assertThat(ack.getOutcomes(0).getReason()).isEqualTo(RejectReason.CONSTRAINT_VIOLATION);
    assertThat(ack.getOutcomes(0).getMessage()).startsWith("the database refused Item: ")
        .containsIgnoringCase(database == Database.H2 ? "Unique index or primary key violation"
            : database == Database.MARIADB ? "Duplicate entry" : "duplicate key");
    assertThat(ack.getOutcomes(1).getStatus()).isEqualTo(OutcomeStatus.APPLIED);
    assertThat(node.find(Item.class, duplicate)).isNull();
    assertThat(node.find(Item.class, fine)).isNotNull();

    UUID customer = UUID.randomUUID();
    Change orphan = Change.newBuilder().setEntity("Purchase").setId(uuid(UUID.randomUUID()))
        .setOwner("probe").setSerial(4).setOperation(Operation.UPSERT)
        .addAttributes(attribute("article", text("lamp")))
        .addAttributes(attribute("customer", Value.newBuilder().setReference(
            Reference.newBuilder().setEntity("Customer").setId(uuid(customer))).build()))
        .build();
    assertRejected(orphan, RejectReason.MISSING_REFERENCE,
        "Purchase.customer references Customer#" + customer + ", which this node does not have");

    assertRejected(item(first, "SAME", 9).setOwner("a").build(), RejectReason.NOT_OWNER,
        "the change claims owner 'a', which is this node: only this node decides the state of its own objects");
    assertStillReplicating(2);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void olderOrEqualSerial_isAlreadyCurrent(Database database) {
    start(database);
    UUID id = UUID.randomUUID();
    assertThat(only(probe.awaitAck(probe.sendChanges(item(id, "V", 5).build()))).getStatus())
        .isEqualTo(OutcomeStatus.APPLIED);
    Change stale = item(id, "V", 4).addAttributes(attribute("name", text("stale"))).build();
    assertThat(only(probe.awaitAck(probe.sendChanges(stale))).getStatus()).isEqualTo(OutcomeStatus.ALREADY_CURRENT);
    assertThat(node.find(Item.class, id).getName()).isEqualTo("thing V");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void peerRejectingAChange_doesNotWedgeTheSendersOutbox(Database database) throws Exception {
    try (NodePair nodes = NodePair.start(database, Transport.IN_PROCESS, Models.ALL)) {
      // b has a local row (written without Hibernate, so never captured) whose unique code collides
      nodes.b.inTransaction(em -> em.createNativeQuery(
          "insert into Item (id, code, name, quantity, version) values (?, 'DUP', 'local', 0, 0)")
          .setParameter(1, UUID.randomUUID()).executeUpdate());
      Item clash = new Item("DUP", "from a", 1);
      nodes.a.inTransaction(em -> em.persist(clash));
      nodes.a.entanglement().caughtUp("b").get(10, TimeUnit.SECONDS);
      assertThat(nodes.a.entanglement().peers().get(0).changesRejectedByPeer()).isEqualTo(1);
      assertThat(nodes.b.entanglement().peers().get(0).changesRejectedHere()).isEqualTo(1);

      Item next = new Item("NEXT", "after the rejection", 2);
      nodes.a.inTransaction(em -> em.persist(next));
      await().atMost(Duration.ofSeconds(10)).until(() -> nodes.b.find(Item.class, next.getId()) != null);
      assertThat(nodes.b.find(Item.class, clash.getId())).isNull();
    }
  }
}
