package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Document;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A rolling upgrade in a line a - b - c (a and c not connected): a and c have the new entity
 * {@code Document}, the relay b does not yet. b keeps Document's changes raw (parked) and passes
 * them on to c, live and on catch-up, the newest state of each object only; its policies still
 * decide what c may see; after b's upgrade the parked changes are applied at b and nothing is
 * refused or parked anywhere.
 */
class RelayUnknownEntityIntegrationTest {
  private final List<TestNode> nodes = new ArrayList<>();

  @AfterEach
  void close() {
    for (int i = nodes.size() - 1; i >= 0; i--) {
      nodes.get(i).close();
    }
  }

  private TestNode start(TestNode.Builder builder) {
    TestNode node = builder.start();
    nodes.add(node);
    return node;
  }

  private static TestNode.Builder fastReconnect(TestNode.Builder builder) {
    return builder.set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200");
  }

  private static Document document(String title) {
    Document document = new Document();
    document.title = title;
    return document;
  }

  private static String title(TestNode node, UUID id) {
    Document document = node.find(Document.class, id);
    return document == null ? null : document.title;
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void relayWithoutTheType_passesItsChangesOn_liveAndOnCatchUp_andAppliesThemAfterItsUpgrade(Database database) {
    String addressA = "raw-relay-a-" + UUID.randomUUID();
    String addressB = "raw-relay-b-" + UUID.randomUUID();
    TestNode a = start(TestNode.builder("a", database, Item.class, Document.class).listenInProcess(addressA));
    TestNode.Builder bBuilder = fastReconnect(TestNode.builder("b", database, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA));
    TestNode b = start(bBuilder);
    TestNode.Builder cBuilder = fastReconnect(TestNode.builder("c", database, Item.class, Document.class)
        .peers("inprocess:" + addressB));
    TestNode c = start(cBuilder);
    TestNode c1 = c;
    a.awaitConnected("b");
    c.awaitConnected("b");

    // live: an update supersedes the older state, a delete reaches c too
    Document kept = document("v1");
    Document removed = document("to be removed");
    a.inTransaction(em -> {
      em.persist(kept);
      em.persist(removed);
    });
    a.inTransaction(em -> em.find(Document.class, kept.id).title = "v2");
    a.inTransaction(em -> em.remove(em.find(Document.class, removed.id)));
    Item item = new Item("I1", "a known type", 1);
    a.inTransaction(em -> em.persist(item));
    a.awaitCaughtUp("b");
    b.awaitCaughtUp("c");
    await().alias("the document relayed raw by b").atMost(Duration.ofSeconds(20))
        .until(() -> "v2".equals(title(c1, kept.id)));
    assertThat(c.find(Document.class, removed.id)).isNull();
    assertThat(c.find(Item.class, item.getId())).isNotNull();

    // catch-up: c was away while a changed the document and added one; c catches up from b alone
    c.close();
    nodes.remove(c);
    Document later = document("while c was away");
    a.inTransaction(em -> em.persist(later));
    a.inTransaction(em -> em.find(Document.class, kept.id).title = "v3");
    a.awaitCaughtUp("b");
    c = start(cBuilder.set("hibernate.hbm2ddl.auto", "update"));
    c.awaitConnected("b");
    b.awaitCaughtUp("c");
    TestNode c2 = c;
    await().alias("c caught up from b's raw changes").atMost(Duration.ofSeconds(20))
        .until(() -> "v3".equals(title(c2, kept.id)) && title(c2, later.id) != null);
    assertThat(c.table("Document")).isEqualTo(a.table("Document"));
    assertThat(c.entanglement().parkedChanges()).isZero();

    // b is upgraded: its parked raw changes are applied there; c, which has them, refuses nothing
    nodes.remove(b);
    b.close();
    TestNode b2 = start(bBuilder.entities(Item.class, Document.class).set("hibernate.hbm2ddl.auto", "update"));
    await().alias("b applied its parked documents").atMost(Duration.ofSeconds(20))
        .until(() -> "v3".equals(title(b2, kept.id)) && title(b2, later.id) != null);
    assertThat(b2.find(Document.class, removed.id)).isNull();
    assertThat(b2.entanglement().parkedChanges()).isZero();
    c.awaitConnected("b");
    b2.awaitCaughtUp("c");
    assertThat(c.table("Document")).isEqualTo(a.table("Document"));
    assertThat(c.entanglement().parkedChanges()).isZero();
  }

  /** A team rule at the relay: a's objects never go to c (whatever their type). */
  public static final class NotToC implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(peer.name().equals("c") && object.owner().equals("a"), "a's objects are not for c");
    }
  }

  /** A rule that needs the object itself: the relay cannot decide it for a type it cannot decode. */
  public static final class ByContent implements Policy {
    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(object.entity() instanceof Document d && "secret".equals(d.title), "secret documents stay");
    }
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void relayWithoutTheType_neverLeaksItToAPeerItsPoliciesDeny(Database database) {
    String addressA = "raw-deny-a-" + UUID.randomUUID();
    String addressB = "raw-deny-b-" + UUID.randomUUID();
    TestNode a = start(TestNode.builder("a", database, Item.class, Document.class).listenInProcess(addressA));
    TestNode b = start(TestNode.builder("b", database, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA).set(EntanglementSettings.POLICY, NotToC.class.getName()));
    TestNode c = start(TestNode.builder("c", database, Item.class, Document.class).peers("inprocess:" + addressB));
    a.awaitConnected("b");
    c.awaitConnected("b");

    Document document = document("for b's eyes only");
    a.inTransaction(em -> em.persist(document));
    Item fromC = new Item("C1", "c's own", 1);
    c.inTransaction(em -> em.persist(fromC));
    a.awaitCaughtUp("b");
    await().until(() -> a.find(Item.class, fromC.getId()) != null); // through b: b relays and is caught up
    b.awaitCaughtUp("c");
    assertThat(c.find(Document.class, document.id)).isNull();
    assertThat(b.entanglement().parkedChanges()).isEqualTo(1);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void relayWithoutTheType_holdsWhatItsPoliciesCannotDecideWithoutTheObject_untilItsUpgrade(Database database) {
    String addressA = "raw-hold-a-" + UUID.randomUUID();
    String addressB = "raw-hold-b-" + UUID.randomUUID();
    TestNode a = start(TestNode.builder("a", database, Item.class, Document.class).listenInProcess(addressA));
    TestNode.Builder bBuilder = fastReconnect(TestNode.builder("b", database, Item.class).listenInProcess(addressB)
        .peers("inprocess:" + addressA).set(EntanglementSettings.POLICY, ByContent.class.getName()));
    TestNode b = start(bBuilder);
    TestNode c = start(fastReconnect(TestNode.builder("c", database, Item.class, Document.class)
        .peers("inprocess:" + addressB)));
    a.awaitConnected("b");
    c.awaitConnected("b");

    Document secret = document("secret");
    Document open = document("open");
    a.inTransaction(em -> {
      em.persist(secret);
      em.persist(open);
    });
    a.awaitCaughtUp("b");
    b.awaitCaughtUp("c");
    assertThat(c.find(Document.class, secret.id)).as("held at b: its policy reads the object").isNull();
    assertThat(c.find(Document.class, open.id)).as("held at b: its policy reads the object").isNull();

    // b is upgraded: now it can decide, and sends what c may see
    nodes.remove(b);
    b.close();
    TestNode b2 = start(bBuilder.entities(Item.class, Document.class).set("hibernate.hbm2ddl.auto", "update"));
    c.awaitConnected("b");
    await().alias("the open document reaches c after b's upgrade").atMost(Duration.ofSeconds(20))
        .until(() -> c.find(Document.class, open.id) != null);
    b2.awaitCaughtUp("c");
    assertThat(c.find(Document.class, secret.id)).isNull();
  }
}
