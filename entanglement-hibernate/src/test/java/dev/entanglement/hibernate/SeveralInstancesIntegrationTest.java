package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Memo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Several application instances (members) of one node: same node name, same database. Before the
 * node lease, two instances both started, handed out the same serials, and the peer got 39 (H2)
 * or 27 (PostgreSQL) of 40 rows committed on them, for good. Now one member holds the node's links
 * and gives the other members' commits their serials; every row committed on any member reaches
 * the peer, in the order of the database's row lock; when the holder stops another member takes
 * the links over; a member whose lease was taken over (it paused too long) stops serving.
 */
class SeveralInstancesIntegrationTest {
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

  private TestNode peer(Database database, String address) {
    return track(TestNode.builder("b", database, Item.class).listenInProcess(address).start());
  }

  private static TestNode.Builder instanceOfA(Database database, String peerAddress) {
    return TestNode.builder("a", database, Item.class).peers("inprocess:" + peerAddress)
        .set(EntanglementSettings.NODE_LEASE_TIMEOUT_MS, "2000"); // renewals every 400 ms; a holder fences itself after 1.8 s without one
  }

  private static Map<String, String> names(TestNode node) {
    Map<String, String> names = new TreeMap<>();
    node.all(Item.class).forEach(item -> names.put(item.getCode(), item.getName()));
    return names;
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void twoInstancesOfANode_bothCommit_andThePeerGetsEveryRowInItsLatestState(Database database) {
    String address = "instances-b-" + UUID.randomUUID();
    TestNode b = peer(database, address);
    TestNode first = track(instanceOfA(database, address).start());
    TestNode second = track(first.again().start());
    assertThat(first.entanglement().connectedPeers()).as("the first member holds the links").isNotNull();
    await().atMost(Duration.ofSeconds(10)).until(() -> first.entanglement().connectedPeers().contains("b"));
    assertThat(second.entanglement().connectedPeers()).as("the second member follows: no links").isEmpty();

    List<UUID> ids = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      int n = i;
      TestNode member = i % 2 == 0 ? first : second;
      Item item = new Item(member == first ? "first-" + n : "second-" + n, "new", n);
      member.inTransaction(em -> em.persist(item));
      ids.add(item.getId());
    }
    // the same objects changed on both members, one after the other: the last write wins everywhere
    for (int i = 0; i < 40; i++) {
      UUID id = ids.get(i);
      first.inTransaction(em -> em.find(Item.class, id).setName("by first"));
      if (i % 3 == 0) {
        second.inTransaction(em -> em.find(Item.class, id).setName("by second"));
      }
    }
    Map<String, String> expected = names(first);
    assertThat(expected).hasSize(40);
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(names(b)).isEqualTo(expected));
    assertThat(((Number) first.sql("select count(distinct serial) from entanglement_object where owner_node = 'a'"))
        .longValue()).as("every object of a has a serial of its own").isEqualTo(40L);
    assertThat(first.sql("select count(*) from entanglement_member_change")).as("every follower commit stamped")
        .isEqualTo(0L);

    // a clean stop of the holder: the follower takes the links over and goes on
    first.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> second.entanglement().connectedPeers().contains("b"));
    second.inTransaction(em -> em.persist(new Item("after", "x", 41)));
    second.inTransaction(em -> em.find(Item.class, ids.get(1)).setName("after the take-over"));
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(names(b)).isEqualTo(names(second)));
    assertThat(names(b)).hasSize(41).containsEntry("second-1", "after the take-over");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void instanceWhoseLeaseWasTakenOver_stopsServing_andAFollowerTakesOverFromACrashedHolder(Database database) {
    String address = "instances-b-" + UUID.randomUUID();
    TestNode b = peer(database, address);
    TestNode first = track(instanceOfA(database, address).start());
    first.awaitConnected("b");
    TestNode second = track(first.again().start());

    // another instance takes the node over (as after a pause of the holder longer than the lease), then crashes
    first.inTransaction(em -> em.createNativeQuery("update entanglement_lease set member_id = 'other', "
        + "member_host = 'elsewhere', token = token + 1 where node_name = 'a'").executeUpdate());
    await().atMost(Duration.ofSeconds(10)).until(() -> !first.entanglement().connectedPeers().contains("b"));
    assertThatThrownBy(() -> first.inTransaction(em -> em.persist(new Item("fenced", "x", 1))))
        .hasStackTraceContaining("This application instance no longer serves Entanglement node 'a': member other on "
            + "host 'elsewhere' took it over");
    assertThat(first.all(Item.class)).as("the fenced commit was rolled back").isEmpty();

    // 'other' never renews: the follower takes the links over once the lease is silent for its timeout
    second.inTransaction(em -> em.persist(new Item("while nobody held the links", "x", 2)));
    await().atMost(Duration.ofSeconds(10)).until(() -> second.entanglement().connectedPeers().contains("b"));
    assertThat(((Number) second.sql("select token from entanglement_lease where node_name = 'a'")).longValue())
        .as("the fencing token rises at every take-over").isEqualTo(3L);
    second.inTransaction(em -> em.persist(new Item("after take-over", "x", 3)));
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(names(b)).containsOnlyKeys(
        "while nobody held the links", "after take-over"));
  }

  /**
   * A holder that paused past its lease must not give serials to what the followers commit after
   * another member took the lease: its clock is behind the new holder's, so peers would keep the
   * older of two states (seen in MembersCrashTest under a loaded CI machine: a new holder whose
   * start outlasted its lease went on stamping). Its stamping is fenced in the database.
   */
  @ParameterizedTest
  @EnumSource(Database.class)
  void aHolderWhoseLeaseWasTakenOver_stampsNoFollowerCommitsAfterward(Database database) throws Exception {
    String address = "instances-b-" + UUID.randomUUID();
    TestNode b = peer(database, address);
    TestNode first = track(instanceOfA(database, address).start());
    first.awaitConnected("b");
    TestNode second = track(first.again().start());
    second.inTransaction(em -> em.persist(new Item("before", "x", 1)));
    await().atMost(Duration.ofSeconds(20)).until(() -> names(b).containsKey("before"));

    // the holder pauses: its lease thread cannot renew, nor notice that the lease is gone
    var factory = first.factory().unwrap(org.hibernate.engine.spi.SessionFactoryImplementor.class);
    var paused = new java.util.concurrent.FutureTask<>(
        () -> dev.entanglement.hibernate.internal.store.ConnectionBudget.of(factory).enterForLease());
    new Thread(paused, "test-holds-the-lease-permit").start(); // a thread of its own: its permit nests nothing else
    var permit = paused.get(10, TimeUnit.SECONDS);
    try {
      first.inTransaction(em -> em.createNativeQuery("update entanglement_lease set member_id = 'other', "
          + "member_host = 'elsewhere', token = token + 1 where node_name = 'a'").executeUpdate());
      long reserved = ((Number) first.sql("select serials_offered from entanglement_node")).longValue();
      Item after = new Item("after the take-over", "x", 2);
      second.inTransaction(em -> em.persist(after));

      // 'other' never renews: the follower takes the links over and stamps the change itself
      await().atMost(Duration.ofSeconds(20)).until(() -> names(b).containsKey("after the take-over"));
      long serial = ((Number) second.sql("select serial from entanglement_object where object_id = '"
          + after.getId() + "'")).longValue();
      assertThat(serial).as("stamped by the new holder, above every serial the paused one reserved (%d), not by "
          + "the paused holder", reserved).isGreaterThan(reserved);
    } finally {
      permit.close();
    }
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void rollingUpgrade_oldAndNewMembersKeepCommitting_andTheNewTypeFollowsOnceANewMemberHoldsTheLinks(
      Database database) {
    String address = "instances-b-" + UUID.randomUUID();
    TestNode b = track(TestNode.builder("b", database, Item.class, Memo.class).listenInProcess(address).start());
    TestNode old = track(instanceOfA(database, address).start());
    old.awaitConnected("b");
    TestNode upgraded = track(old.again().entities(Item.class, Memo.class).start());

    old.inTransaction(em -> em.persist(new Item("old-1", "x", 1)));
    upgraded.inTransaction(em -> {
      em.persist(new Item("new-1", "x", 2));
      em.persist(new Memo(1, "from the new version", false));
    });
    old.inTransaction(em -> em.persist(new Item("old-2", "x", 3)));
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(names(b)).containsOnlyKeys("old-1", "new-1",
        "old-2"));
    assertThat(b.find(Memo.class, 1L)).as("the old holder cannot read a Memo: it waits").isNull();
    assertThat(old.sql("select count(*) from entanglement_member_change where entity_name = 'Memo'")).isEqualTo(1L);

    // the deploy ends: the old member stops, the upgraded one takes the links and sends what waited
    old.close();
    await().atMost(Duration.ofSeconds(20)).until(() -> b.find(Memo.class, 1L) != null);
    assertThat(b.find(Memo.class, 1L).getText()).isEqualTo("from the new version");
    upgraded.inTransaction(em -> em.persist(new Item("new-2", "x", 4)));
    await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(names(b)).containsOnlyKeys("old-1", "new-1",
        "old-2", "new-2"));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aFollowersUpdateRequests_completeWithTheOwnersResult_whicheverMemberHoldsTheLinks(Database database)
      throws Exception {
    String address = "instances-b-" + UUID.randomUUID();
    TestNode b = peer(database, address);
    TestNode first = track(instanceOfA(database, address).start());
    first.awaitConnected("b");
    TestNode second = track(first.again().start());
    Item owned = new Item("b's", "new", 1);
    b.inTransaction(em -> em.persist(owned));
    await().atMost(Duration.ofSeconds(10)).until(() -> second.find(Item.class, owned.getId()) != null);
    List<RequestEvent> heardByHolder = new java.util.concurrent.CopyOnWriteArrayList<>();
    first.entanglement().addRequestListener(heardByHolder::add);

    Item updated = second.entanglement().update(Item.class, owned.getId(), item -> item.setName("by the follower"))
        .get(20, TimeUnit.SECONDS);
    assertThat(updated.getName()).isEqualTo("by the follower");
    assertThat(b.find(Item.class, owned.getId()).getName()).isEqualTo("by the follower");
    Item created = second.entanglement().create(new Item("made for b", "x", 2), "b").get(20, TimeUnit.SECONDS);
    assertThat(b.find(Item.class, created.getId())).isNotNull();
    await().alias("the holder sent them and its listeners heard them").atMost(Duration.ofSeconds(10))
        .until(() -> heardByHolder.size() == 2);
    // a change of b's object in a JPA transaction on the follower: a request too, whose outcome
    // nobody waits for there (no outcome row is left behind)
    second.inTransaction(em -> em.find(Item.class, owned.getId()).setName("by JPA on the follower"));
    await().atMost(Duration.ofSeconds(20)).until(() -> "by JPA on the follower".equals(b.find(Item.class,
        owned.getId()).getName()));
    await().atMost(Duration.ofSeconds(10)).until(() -> heardByHolder.size() == 3);
    assertThat(second.sql("select count(*) from entanglement_request_outcome")).as("outcomes read or never written")
        .isEqualTo(0L);

    // the holder stops: the follower takes the links over, and its requests go on working
    first.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> second.entanglement().connectedPeers().contains("b"));
    second.entanglement().delete(Item.class, created.getId()).get(20, TimeUnit.SECONDS);
    assertThat(b.find(Item.class, created.getId())).isNull();
    // a refusal arrives typed, as at the holder: the owner has no such object any more
    b.inTransaction(em -> em.remove(em.find(Item.class, owned.getId())));
    await().atMost(Duration.ofSeconds(10)).until(() -> second.find(Item.class, owned.getId()) == null);
    assertThat(second.entanglement().update(Item.class, owned.getId(), item -> item.setName("too late")))
        .failsWithin(Duration.ofSeconds(20)).withThrowableThat().withCauseInstanceOf(UpdateRequestException.NotFound.class);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aFollowerRefusesCallsThatNeedTheLinks_namingTheHolder(Database database) {
    String address = "instances-b-" + UUID.randomUUID();
    peer(database, address);
    TestNode first = track(instanceOfA(database, address).start());
    TestNode second = track(first.again().start());
    Object holder = first.sql("select member_id from entanglement_lease where node_name = 'a'");
    assertThatThrownBy(() -> second.entanglement().resync("b", ResyncMode.RESEND).join())
        .hasMessageContaining("resync() needs node 'a''s links, which member " + holder + " on host '")
        .hasMessageContaining("this application instance (member ")
        .hasMessageContaining("updates, transfers, transitions and ephemeral objects work on every member");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void serialsOfferedBeforeTheirCommit_areReservedFirst_andTheNextHolderStartsAboveThem(Database database) {
    String address = "instances-b-" + UUID.randomUUID();
    TestNode b = peer(database, address);
    TestNode first = track(instanceOfA(database, address).start());
    first.awaitConnected("b");
    TestNode second = track(first.again().start());
    for (int i = 0; i < 3; i++) {
      int n = i;
      second.inTransaction(em -> em.persist(new Item("by follower " + n, "x", n)));
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> names(b).size() == 3);
    long reserved = ((Number) first.sql("select serials_offered from entanglement_node")).longValue();
    long highest = ((Number) first.sql("select max(serial) from entanglement_object where owner_node = 'a'")).longValue();
    assertThat(reserved).as("the holder offers the followers' changes while its stamp commits: their serials are "
        + "reserved (flushed) before they go out").isGreaterThanOrEqualTo(highest);

    first.close(); // the next holder's clock starts above every serial that may have gone out uncommitted
    await().atMost(Duration.ofSeconds(10)).until(() -> second.entanglement().connectedPeers().contains("b"));
    Item after = new Item("after the take-over", "x", 9);
    second.inTransaction(em -> em.persist(after));
    long serial = ((Number) second.sql("select serial from entanglement_object where object_id = '" + after.getId()
        + "'")).longValue();
    assertThat(serial).isGreaterThan(reserved);
    await().atMost(Duration.ofSeconds(20)).until(() -> names(b).containsKey("after the take-over"));
  }
}
