package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Document;
import dev.entanglement.hibernate.testing.model.Item;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code caughtUp(peer)} says what the peer holds parked of what this node sent it, with the
 * reasons, instead of completing as if all were well; once the peer applied them (on its own
 * retry) the report is empty again.
 */
class CaughtUpReportIntegrationTest {
  private TestNode a;
  private TestNode b;

  @AfterEach
  void close() {
    for (TestNode node : new TestNode[] {b, a}) {
      if (node != null) {
        node.close();
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void changesParkedAtThePeer_areReportedWithTheirReasons_untilThePeerAppliesThem(Database database) throws Exception {
    String address = "report-" + UUID.randomUUID();
    a = TestNode.builder("a", database, Item.class, Document.class).listenInProcess(address).start();
    b = TestNode.builder("b", database, Item.class).peers("inprocess:" + address).start();
    b.awaitConnected("a");

    Item fine = new Item("FINE", "arrives", 1);
    a.inTransaction(em -> em.persist(fine));
    CatchUpReport clean = a.entanglement().caughtUp("b").get(20, TimeUnit.SECONDS);
    assertThat(clean.nothingParked()).isTrue();
    assertThat(clean.parked()).isEmpty();
    assertThat(clean.peer()).isEqualTo("b");

    // a unique code held by a local row at b, and an entity type b does not have yet
    UUID local = UUID.randomUUID();
    b.inTransaction(em -> em.createNativeQuery(
        "insert into Item (id, code, name, quantity, version) values (?, 'CLASH', 'local', 0, 0)")
        .setParameter(1, local).executeUpdate());
    Item clash = new Item("CLASH", "from a", 2);
    a.inTransaction(em -> em.persist(clash));
    Document document = new Document();
    document.title = "deployed at a first";
    a.inTransaction(em -> em.persist(document));

    CatchUpReport report = a.entanglement().caughtUp("b").get(20, TimeUnit.SECONDS);
    assertThat(b.entanglement().parkedChanges()).isEqualTo(2);
    assertThat(report.nothingParked()).isFalse();
    assertThat(report.parkedCount()).isEqualTo(2);
    assertThat(report.parked()).extracting(CatchUpReport.ParkedChange::entity, CatchUpReport.ParkedChange::id,
            CatchUpReport.ParkedChange::owner, CatchUpReport.ParkedChange::reason)
        .containsExactlyInAnyOrder(
            tuple("Item", clash.getId().toString(), "a", "CONSTRAINT_VIOLATION"),
            tuple("Document", String.valueOf(document.id), "a", "UNKNOWN_ENTITY"));
    assertThat(report.parked()).allSatisfy(p -> assertThat(p.message()).isNotBlank());

    // b removes the obstacle and applies the parked change on its own retry: no longer reported
    b.inTransaction(em -> em.createNativeQuery("delete from Item where id = ?").setParameter(1, local).executeUpdate());
    b.entanglement().runHousekeeping();
    assertThat(b.find(Item.class, clash.getId())).isNotNull();
    CatchUpReport after = a.entanglement().caughtUp("b").get(20, TimeUnit.SECONDS);
    assertThat(after.parked()).extracting(CatchUpReport.ParkedChange::reason).containsExactly("UNKNOWN_ENTITY");
    assertThat(after.parkedCount()).isEqualTo(1);
  }
}
