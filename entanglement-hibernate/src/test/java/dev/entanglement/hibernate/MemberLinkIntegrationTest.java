package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The member link: transfers, transitions and ephemeral objects work on a member that does not
 * hold the node's links (a follower), through the member that does. Before it, each of these
 * calls failed on a follower ("startTransition() needs node 'a''s links, which member ... holds").
 */
class MemberLinkIntegrationTest {
  public record Presence(String user, String status) {}

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
    TestNode b = track(TestNode.builder("b", database, Item.class).listenInProcess(address).start());
    b.entanglement().ephemeral(Presence.class);
    return b;
  }

  private static TestNode.Builder instanceOfA(Database database, String peerAddress) {
    return TestNode.builder("a", database, Item.class).peers("inprocess:" + peerAddress)
        .set(EntanglementSettings.NODE_LEASE_TIMEOUT_MS, "2000");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void transitionStartedOnAFollower_isSeenAtThePeerAndTheHolder_andItsCommitReachesEveryone(Database database)
      throws Exception {
    String address = "link-b-" + UUID.randomUUID();
    TestNode b = peer(database, address);
    TestNode holder = track(instanceOfA(database, address).start());
    holder.awaitConnected("b");
    TestNode follower = track(holder.again().start());
    var atB = new TransitionIntegrationTest.Recorder(); // "kind origin name" lines
    var atHolder = new TransitionIntegrationTest.Recorder();
    var atFollower = new TransitionIntegrationTest.Recorder();
    b.entanglement().addTransitionListener(atB);
    holder.entanglement().addTransitionListener(atHolder);
    follower.entanglement().addTransitionListener(atFollower);
    Item item = new Item("card", "todo", 1);
    follower.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, item.getId()) != null);

    Transition<Item> drag = follower.entanglement().startTransition(Item.class, item.getId());
    drag.update(i -> i.setName("dragging")).update(i -> i.setName("dropped on done"));
    await().atMost(Duration.ofSeconds(10)).until(() -> atB.events.contains("provisional a dropped on done")
        && atHolder.events.contains("provisional a dropped on done")
        && atFollower.events.contains("provisional a dropped on done"));
    assertThat(b.find(Item.class, item.getId()).getName()).as("provisional only: nothing persisted").isEqualTo("todo");

    Item committed = drag.commit().get(20, TimeUnit.SECONDS);
    assertThat(committed.getName()).as("the outcome on the follower").isEqualTo("dropped on done");
    await().atMost(Duration.ofSeconds(10)).until(() -> "dropped on done".equals(b.find(Item.class, item.getId()).getName()));
    await().atMost(Duration.ofSeconds(10)).until(() -> atB.events.contains("ended a dropped on done"));

    Transition<Item> cancelled = follower.entanglement().startTransition(Item.class, item.getId());
    cancelled.update(i -> i.setName("never"));
    cancelled.cancel();
    assertThatThrownBy(() -> cancelled.outcome().get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(
        TransitionBrokenException.class);
    await().atMost(Duration.ofSeconds(10)).until(() -> atB.events.contains("broken a"));
    assertThat(b.find(Item.class, item.getId()).getName()).isEqualTo("dropped on done");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void ephemeralObjectsOfAFollower_reachThePeer_itSeesThePeersOnes_andTheyGoWhenItStops(Database database) {
    String address = "link-b-" + UUID.randomUUID();
    TestNode b = peer(database, address);
    TestNode holder = track(instanceOfA(database, address).start());
    holder.awaitConnected("b");
    TestNode follower = track(holder.again().start());
    List<String> seenOnFollower = new CopyOnWriteArrayList<>();
    EphemeralObjects<Presence> presence = follower.entanglement().ephemeral(Presence.class);
    presence.subscribe((id, value, owner) -> seenOnFollower.add(id + " " + value.status() + " from " + owner));

    presence.put("ann", new Presence("ann", "online"));
    EphemeralObjects<Presence> atB = b.entanglement().ephemeral(Presence.class);
    await().atMost(Duration.ofSeconds(10)).until(() -> atB.get("ann").map(Presence::status).orElse("").equals("online"));
    assertThat(atB.ownerOf("ann")).contains("a");
    assertThat(holder.entanglement().ephemeral(Presence.class).get("ann")).map(Presence::status).contains("online");

    atB.put("bob", new Presence("bob", "away"));
    await().atMost(Duration.ofSeconds(10)).until(() -> presence.get("bob").isPresent());
    assertThat(presence.ownerOf("bob")).contains("b");
    assertThat(seenOnFollower).contains("bob away from b");
    assertThat(presence.all()).containsOnlyKeys("ann", "bob");

    follower.close(); // a member that goes away takes its ephemeral objects with it
    await().atMost(Duration.ofSeconds(10)).until(() -> atB.get("ann").isEmpty());
    assertThat(atB.get("bob")).isPresent();
  }

  /**
   * Peer b and three members of a: the first holds the links, the second and the third each put
   * an ephemeral object ("sid", "cid") that b holds.
   */
  private record ThreeMembers(TestNode b, TestNode first, TestNode second, TestNode third) {
    /**
     * Waits until the second or the third holds the links (whichever looked first), then until it
     * and b hold both members' objects; returns it.
     */
    TestNode awaitNextHolderWithBothObjects(Duration takeOver) {
      TestNode next = await().atMost(takeOver).until(() -> second.entanglement().connectedPeers().contains("b")
          ? second : third.entanglement().connectedPeers().contains("b") ? third : null, java.util.Objects::nonNull);
      EphemeralObjects<Presence> atB = b.entanglement().ephemeral(Presence.class);
      await().atMost(Duration.ofSeconds(10)).until(() -> next.entanglement().ephemeral(Presence.class).all().keySet()
          .containsAll(List.of("sid", "cid")) && atB.get("sid").isPresent() && atB.get("cid").isPresent());
      return next;
    }
  }

  private ThreeMembers threeMembers(Database database) {
    String address = "link-b-" + UUID.randomUUID();
    TestNode b = peer(database, address);
    TestNode first = track(instanceOfA(database, address).start());
    first.awaitConnected("b");
    TestNode second = track(first.again().start());
    TestNode third = track(first.again().start());
    second.entanglement().ephemeral(Presence.class).put("sid", new Presence("sid", "online"));
    third.entanglement().ephemeral(Presence.class).put("cid", new Presence("cid", "online"));
    EphemeralObjects<Presence> atB = b.entanglement().ephemeral(Presence.class);
    await().atMost(Duration.ofSeconds(10)).until(() -> atB.get("sid").isPresent() && atB.get("cid").isPresent());
    return new ThreeMembers(b, first, second, third);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void afterAFailover_aFollowersEphemeralObjectsAreAtTheNewHolder_andATransferFromAFollowerWorks(Database database)
      throws Exception {
    ThreeMembers members = threeMembers(database);
    TestNode b = members.b();
    TestNode first = members.first();

    // the links go to the second or the third member (whichever looks first); the other attaches
    // to it and puts its object again, and the new holder keeps its own
    first.close();
    TestNode next = members.awaitNextHolderWithBothObjects(Duration.ofSeconds(10));
    TestNode follower = next == members.second() ? members.third() : members.second();

    Item item = new Item("handed", "over", 7);
    follower.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, item.getId()) != null);
    Item transferred = follower.entanglement().transfer(Item.class, item.getId(), "b").get(20, TimeUnit.SECONDS);
    assertThat(transferred.getCode()).isEqualTo("handed");
    await().atMost(Duration.ofSeconds(10)).until(() -> b.entanglement().ownerOf(Item.class, item.getId())
        .orElse("").equals("b"));
    assertThat(follower.entanglement().ownerOf(Item.class, item.getId())).contains("b");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aHolderThatLostItsLease_closesTheLink_soItsFollowersReachTheNextHolder(Database database) {
    ThreeMembers members = threeMembers(database);
    TestNode first = members.first();

    // another instance takes the lease (as after a long pause of the holder) and never renews it:
    // the first member stops serving, the second or the third takes over after the timeout, and
    // the other one, attached to the first, must find the new holder and put its object again there
    first.inTransaction(em -> em.createNativeQuery("update entanglement_lease set member_id = 'other', "
        + "member_host = 'elsewhere', token = token + 1, link_address = null where node_name = 'a'").executeUpdate());
    members.awaitNextHolderWithBothObjects(Duration.ofSeconds(15));
  }

  @org.junit.jupiter.api.Test
  void overMutualTls_theLinkUsesTheNodesCertificate(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    var certificates = new dev.entanglement.hibernate.testing.Certificates(dir);
    TestNode holder = track(certificates.tls(TestNode.builder("a", Database.H2, Item.class)
        .set(EntanglementSettings.PLAINTEXT, "false"), "a", "main", "main").start());
    TestNode follower = track(holder.again().start());
    assertThat(holder.sql("select link_address from entanglement_lease")).asString().startsWith("127.0.0.1:");
    follower.entanglement().ephemeral(Presence.class).put("tls", new Presence("tls", "encrypted"));
    await().atMost(Duration.ofSeconds(10)).until(() -> holder.entanglement().ephemeral(Presence.class).get("tls")
        .isPresent());
  }
}
