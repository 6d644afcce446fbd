package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Customer;
import dev.entanglement.hibernate.testing.model.DanglingPurchase;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.LoosePurchase;
import dev.entanglement.hibernate.testing.model.Purchase;
import dev.entanglement.hibernate.testing.model.StrictLoosePurchase;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * {@code @EntangledReference(whenMissing = ...)}: a child whose parent a policy withholds from the
 * receiver is parked by default (for as long as the parent is withheld), stored with a null
 * reference (STORE_NULL), or stored with its reference dangling (DANGLE), which resolves once the
 * parent arrives.
 */
class ReferenceIntegrityIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Class<?>[] ENTITIES = {
    Item.class, Customer.class, Purchase.class, LoosePurchase.class, DanglingPurchase.class};

  /** Withholds one customer from peer b until told to share it. */
  private static final class WithholdOne implements Policy {
    final AtomicBoolean share = new AtomicBoolean();
    volatile UUID withheld;

    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(!share.get() && object.id().equals(withheld) && peer.name().equals("b"),
          "customer withheld from b");
    }
  }

  @Test
  void aChildOfAWithheldParentIsParkedStoredWithNullOrStoredDanglingAsItsReferenceSays() {
    WithholdOne policy = new WithholdOne();
    String address = "ri-a-" + UUID.randomUUID();
    try (TestNode a = TestNode.builder("a", Database.H2, ENTITIES).listenInProcess(address)
            .set(EntanglementSettings.POLICY, policy).start();
        TestNode b = TestNode.builder("b", Database.H2, ENTITIES).peers("inprocess:" + address).start()) {
      b.awaitConnected("a");
      Customer customer = new Customer("withheld");
      policy.withheld = customer.id;
      Purchase parked = new Purchase(customer, "parked");
      LoosePurchase loose = new LoosePurchase(customer, "loose");
      DanglingPurchase dangling = new DanglingPurchase(customer, "dangling");
      a.inTransaction(em -> {
        em.persist(customer);
        em.persist(parked);
        em.persist(loose);
        em.persist(dangling);
      });
      Item after = new Item("RI1", "after", 1);
      a.inTransaction(em -> em.persist(after));
      await().atMost(WAIT).until(() -> b.find(Item.class, after.getId()) != null);

      assertThat(b.find(Customer.class, customer.id)).as("the withheld customer").isNull();
      assertThat(b.find(Purchase.class, parked.id)).as("PARK: not stored").isNull();
      assertThat(b.table("entanglement_parked")).as("PARK: parked with its reason").singleElement().asString()
          .contains("Purchase").contains(parked.id.toString()).contains("MISSING_REFERENCE");
      LoosePurchase storedLoose = b.find(LoosePurchase.class, loose.id);
      assertThat(storedLoose.article).isEqualTo("loose");
      assertThat(storedLoose.customer).as("STORE_NULL: no customer").isNull();
      java.nio.ByteBuffer column = java.nio.ByteBuffer.wrap(
          (byte[]) b.sql("select customer_id from DanglingPurchase where id = '" + dangling.id + "'"));
      assertThat(new UUID(column.getLong(), column.getLong()))
          .as("DANGLE: the customer's id, though b has no such row").isEqualTo(customer.id);

      policy.share.set(true);
      a.entanglement().policyChanged();
      await().atMost(WAIT).until(() -> b.find(Customer.class, customer.id) != null);
      await().atMost(WAIT).until(() -> b.find(Purchase.class, parked.id) != null);
      assertThat(b.table("entanglement_parked")).isEmpty();
      String resolved = b.read(em -> ((Customer) org.hibernate.Hibernate.unproxy(
          em.find(DanglingPurchase.class, dangling.id).customer)).name);
      assertThat(resolved).as("DANGLE: resolves once the customer arrives").isEqualTo("withheld");
      assertThat(b.find(LoosePurchase.class, loose.id).customer)
          .as("STORE_NULL: stays null until the owner sends the purchase again").isNull();
    }
  }

  @Test
  void storeNullOnAMandatoryAssociationFailsTheBootNamingTheAttribute() {
    assertThatThrownBy(() -> TestNode.builder("a", Database.H2, Customer.class, Purchase.class, StrictLoosePurchase.class).start())
        .hasStackTraceContaining("StrictLoosePurchase.customer")
        .hasStackTraceContaining("whenMissing = STORE_NULL")
        .hasStackTraceContaining("not optional");
  }
}
