package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.NodePair;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.Transport;
import dev.entanglement.hibernate.testing.model.Address;
import dev.entanglement.hibernate.testing.model.AllTypes;
import dev.entanglement.hibernate.testing.model.Car;
import dev.entanglement.hibernate.testing.model.Color;
import dev.entanglement.hibernate.testing.model.Customer;
import dev.entanglement.hibernate.testing.model.Document;
import dev.entanglement.hibernate.testing.model.Invoice;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Models;
import dev.entanglement.hibernate.testing.model.Purchase;
import dev.entanglement.hibernate.testing.model.Truck;
import dev.entanglement.hibernate.testing.model.Vehicle;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Committed inserts, updates and deletes on the owner reach a peer, for every mapping. */
class ReplicationIntegrationTest {

  static Stream<Arguments> setups() {
    return Stream.of(
        Arguments.of(Database.H2, Transport.IN_PROCESS),
        Arguments.of(Database.H2, Transport.NETTY),
        Arguments.of(Database.POSTGRESQL, Transport.IN_PROCESS),
        Arguments.of(Database.POSTGRESQL, Transport.NETTY),
        Arguments.of(Database.MARIADB, Transport.NETTY));
  }

  private static void caughtUp(TestNode from, TestNode to) throws Exception {
    from.entanglement().caughtUp(to.name()).get(20, TimeUnit.SECONDS);
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("setups")
  void item_insertUpdateDelete_arriveWithEqualValues(Database database, Transport transport) throws Exception {
    try (NodePair nodes = NodePair.start(database, transport, Models.ALL)) {
      Item item = new Item("I-1", "bolt", 3);
      item.setAddress(new Address("Main St 1", "Springfield"));
      item.setLocalNote("only on a");
      nodes.a.inTransaction(em -> em.persist(item));
      UUID id = item.getId();
      caughtUp(nodes.a, nodes.b);

      Item copy = nodes.b.find(Item.class, id);
      assertThat(copy).isNotNull();
      assertThat(copy.getName()).isEqualTo("bolt");
      assertThat(copy.getQuantity()).isEqualTo(3);
      assertThat(copy.getAddress()).isEqualTo(new Address("Main St 1", "Springfield"));
      assertThat(copy.getVersion()).isEqualTo(0);
      assertThat(copy.getLocalNote()).as("@NotEntangled attribute").isNull();

      nodes.a.inTransaction(em -> {
        Item managed = em.find(Item.class, id);
        managed.setName("nut");
        managed.setQuantity(7);
        managed.setAddress(null);
      });
      caughtUp(nodes.a, nodes.b);
      Item updated = nodes.b.find(Item.class, id);
      assertThat(updated.getName()).isEqualTo("nut");
      assertThat(updated.getQuantity()).isEqualTo(7);
      assertThat(updated.getAddress()).isNull();
      assertThat(updated.getVersion()).as("the owner's version, not a local increment").isEqualTo(1);

      nodes.a.inTransaction(em -> em.remove(em.find(Item.class, id)));
      caughtUp(nodes.a, nodes.b);
      assertThat(nodes.b.find(Item.class, id)).isNull();
      assertThat(nodes.b.sql("select deleted from entanglement_object where object_id = '" + id + "'"))
          .as("tombstone at the receiver").isEqualTo(true);
    }
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("setups")
  void allBasicTypes_arriveWithEqualValues(Database database, Transport transport) throws Exception {
    try (NodePair nodes = NodePair.start(database, transport, Models.ALL)) {
      AllTypes row = new AllTypes();
      row.id = "all-1";
      row.label = "héllo ✓";
      row.letter = 'x';
      row.boxedLetter = 'y';
      row.tiny = -7;
      row.small = 1234;
      row.whole = Integer.MIN_VALUE;
      row.boxedNumber = null;
      row.big = Long.MAX_VALUE;
      row.boxedBig = -1L;
      row.ratio = 0.5f;
      row.precise = Math.PI;
      row.boxedPrecise = -0.25;
      row.flag = true;
      row.boxedFlag = false;
      row.money = new BigDecimal("12345.67");
      row.huge = new BigInteger("123456789012345678901234567890");
      row.reference = UUID.randomUUID();
      row.color = Color.GREEN;
      row.ordinalColor = Color.BLUE;
      row.instant = Instant.now().truncatedTo(ChronoUnit.MICROS);
      row.someDay = LocalDate.of(2026, 11, 22);
      row.someTime = LocalTime.of(8, 52, 35);
      row.dateTime = LocalDateTime.of(2026, 11, 22, 8, 52, 35, 123_000_000);
      row.offsetDateTime = OffsetDateTime.of(2026, 11, 22, 8, 52, 35, 0, ZoneOffset.UTC);
      row.duration = Duration.ofMinutes(90);
      row.payload = new byte[] {0, 1, 2, (byte) 255};
      nodes.a.inTransaction(em -> em.persist(row));
      caughtUp(nodes.a, nodes.b);

      AllTypes copy = nodes.b.find(AllTypes.class, "all-1");
      AllTypes original = nodes.a.find(AllTypes.class, "all-1");
      assertThat(copy).usingRecursiveComparison().isEqualTo(original);
      assertThat(copy.label).isEqualTo("héllo ✓");
      assertThat(copy.huge).isEqualTo(row.huge);
      assertThat(copy.payload).containsExactly(0, 1, 2, 255);
    }
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("setups")
  void referencesAndInheritance_arriveAsTheSameSubclass(Database database, Transport transport) throws Exception {
    try (NodePair nodes = NodePair.start(database, transport, Models.ALL)) {
      Customer customer = new Customer("Ada");
      Purchase purchase = new Purchase(customer, "lamp");
      Car car = new Car();
      car.plate = "CAR-1";
      car.seats = 5;
      Truck truck = new Truck();
      truck.plate = "TRK-1";
      truck.payloadTons = 7.5;
      Invoice invoice = new Invoice();
      invoice.title = "November";
      invoice.total = new BigDecimal("99.90");
      Document plain = new Document();
      plain.title = "plain";
      nodes.a.inTransaction(em -> {
        em.persist(customer);
        em.persist(purchase);
        em.persist(car);
        em.persist(truck);
        em.persist(invoice);
        em.persist(plain);
      });
      caughtUp(nodes.a, nodes.b);

      nodes.b.read(em -> {
        Purchase p = em.find(Purchase.class, purchase.id);
        // the association is lazy: read it through the proxy's initializer, not its fields
        assertThat(((Customer) org.hibernate.Hibernate.unproxy(p.customer)).id).isEqualTo(customer.id);
        assertThat(((Customer) org.hibernate.Hibernate.unproxy(p.customer)).name).isEqualTo("Ada");
        assertThat(((Customer) org.hibernate.Hibernate.unproxy(em.find(Customer.class, customer.id))).purchases)
            .hasSize(1);
        Vehicle v1 = em.find(Vehicle.class, car.id);
        assertThat(v1).isInstanceOf(Car.class);
        assertThat(((Car) v1).seats).isEqualTo(5);
        Vehicle v2 = em.find(Vehicle.class, truck.id);
        assertThat(v2).isInstanceOf(Truck.class);
        assertThat(((Truck) v2).payloadTons).isEqualTo(7.5);
        Document d1 = em.find(Document.class, invoice.id);
        assertThat(d1).isInstanceOf(Invoice.class);
        assertThat(((Invoice) d1).total).isEqualByComparingTo("99.90");
        assertThat(em.find(Document.class, plain.id)).isExactlyInstanceOf(Document.class);
        return null;
      });

      // re-point the reference, then delete the old parent
      Customer other = new Customer("Grace");
      nodes.a.inTransaction(em -> em.persist(other));
      nodes.a.inTransaction(em -> {
        // the purchase's customer is loaded lazily (a proxy) and replaced by a proxy as well
        em.find(Purchase.class, purchase.id).customer = em.getReference(Customer.class, other.id);
      });
      nodes.a.inTransaction(em -> em.remove(em.find(Customer.class, customer.id)));
      caughtUp(nodes.a, nodes.b);
      nodes.b.read(em -> {
        assertThat(((Customer) org.hibernate.Hibernate.unproxy(em.find(Purchase.class, purchase.id).customer)).name)
            .isEqualTo("Grace");
        assertThat(em.find(Customer.class, customer.id)).isNull();
        return null;
      });
    }
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("setups")
  void rollback_sendsNothing(Database database, Transport transport) throws Exception {
    try (NodePair nodes = NodePair.start(database, transport, Models.ALL)) {
      Item rolledBack = new Item("RB", "never", 1);
      var em = nodes.a.factory().createEntityManager();
      em.getTransaction().begin();
      em.persist(rolledBack);
      em.flush(); // the insert reached the database and the listener saw it
      em.getTransaction().rollback();
      em.close();

      Item marker = new Item("MK", "marker", 1);
      nodes.a.inTransaction(e -> e.persist(marker));
      caughtUp(nodes.a, nodes.b);
      assertThat(nodes.b.find(Item.class, marker.getId())).isNotNull();
      assertThat(nodes.b.all(Item.class)).extracting(Item::getCode).containsExactly("MK");
      assertThat(nodes.b.entanglement().peers().get(0).changesReceived()).isEqualTo(1);
    }
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("setups")
  void changeAfterCommit_notCommitted_isNotSent(Database database, Transport transport) throws Exception {
    try (NodePair nodes = NodePair.start(database, transport, Models.ALL)) {
      var em = nodes.a.factory().createEntityManager();
      Item item = new Item("AC", "committed", 1);
      em.getTransaction().begin();
      em.persist(item);
      em.getTransaction().commit();
      item.setName("changed after commit"); // still managed, never flushed nor committed
      Item marker = new Item("MK2", "marker", 1);
      nodes.a.inTransaction(e -> e.persist(marker));
      caughtUp(nodes.a, nodes.b);
      assertThat(nodes.b.find(Item.class, item.getId()).getName()).isEqualTo("committed");
      em.close();
    }
  }

  @ParameterizedTest(name = "{0} over {1}")
  @MethodSource("setups")
  void appliedChange_isNotEchoedBack(Database database, Transport transport) throws Exception {
    try (NodePair nodes = NodePair.start(database, transport, Models.ALL)) {
      for (int i = 0; i < 20; i++) {
        Item item = new Item("E" + i, "echo " + i, i);
        nodes.a.inTransaction(em -> em.persist(item));
      }
      caughtUp(nodes.a, nodes.b);
      assertThat(nodes.b.all(Item.class)).hasSize(20);
      // b commits something of its own: when that arrives at a, a has received exactly one change
      Item own = new Item("B1", "from b", 1);
      nodes.b.inTransaction(em -> em.persist(own));
      caughtUp(nodes.b, nodes.a);
      assertThat(nodes.a.find(Item.class, own.getId())).isNotNull();
      PeerStatus bAtA = nodes.a.entanglement().peers().get(0);
      assertThat(bAtA.changesReceived()).as("a received only b's own change").isEqualTo(1);
      PeerStatus aAtB = nodes.b.entanglement().peers().get(0);
      assertThat(aAtB.changesSent()).as("b sent nothing back of a's 20 objects").isEqualTo(1);
      assertThat(nodes.b.sql("select count(*) from entanglement_object where owner_node = 'a'"))
          .isEqualTo(20L);
    }
  }
}
