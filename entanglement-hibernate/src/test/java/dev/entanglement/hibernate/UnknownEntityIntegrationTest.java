package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Document;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A rolling upgrade deploys a new entity on one node first: its changes reach nodes that do not
 * have the type yet. They are parked there, raw, and applied once the upgrade brings the type.
 */
class UnknownEntityIntegrationTest {
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
  void changeOfATypeNotYetDeployedHere_isParked_andAppliedAfterTheUpgrade(Database database) throws Exception {
    String address = "upgrade-" + UUID.randomUUID();
    a = TestNode.builder("a", database, Item.class, Document.class).listenInProcess(address).start();
    TestNode.Builder bBuilder = TestNode.builder("b", database, Item.class).peers("inprocess:" + address);
    b = bBuilder.start();
    b.awaitConnected("a");

    Document document = new Document();
    document.title = "deployed at a first";
    a.inTransaction(em -> em.persist(document));
    Item item = new Item("I1", "an old type", 1);
    a.inTransaction(em -> em.persist(item));
    a.entanglement().caughtUp("b").get(20, TimeUnit.SECONDS);
    assertThat(b.find(Item.class, item.getId())).isNotNull();
    assertThat(b.entanglement().parkedChanges()).isEqualTo(1);
    b.close();

    // b is upgraded: the same database, now with the new entity
    b = bBuilder.entities(Item.class, Document.class).set("hibernate.hbm2ddl.auto", "update").start();
    await().alias("the parked document applied").atMost(Duration.ofSeconds(20))
        .until(() -> b.find(Document.class, document.id) != null);
    assertThat(b.find(Document.class, document.id).title).isEqualTo("deployed at a first");
    assertThat(b.entanglement().parkedChanges()).isZero();
  }
}
