package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.ExercisePolicy;
import dev.entanglement.hibernate.testing.FaultyProxy;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Update requests find owners through the owner directory (issue 13), over real TCP with a
 * cuttable proxy on every link: a quiet owner stays reachable after a link flap, an owner that
 * never committed can be asked to create, a waiting request leaves as soon as the route appears,
 * and a gateway keeps its routes while a leaf catches it up.
 */
class OwnerDirectoryIntegrationTest {
  private static final String TIMEOUT_MS = "10000";
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void close() {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      try {
        closeables.get(i).close();
      } catch (Exception ignored) {
        // best effort
      }
    }
  }

  private <T extends AutoCloseable> T track(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  private static TestNode.Builder node(String name) {
    return TestNode.builder(name, Database.H2, Item.class)
        .set(EntanglementSettings.PLAINTEXT, "true")
        .set(EntanglementSettings.HEARTBEAT_INTERVAL_MS, "100")
        .set(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, "600")
        .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
        .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "200")
        .set(EntanglementSettings.REQUEST_TIMEOUT_MS, TIMEOUT_MS);
  }

  /** A node listening on a free loopback port. */
  private TestNode hub(TestNode.Builder builder) {
    return track(builder.set(EntanglementSettings.LISTEN, "127.0.0.1:0").start());
  }

  /** A proxy in front of a listening node, for one link to cut. */
  private FaultyProxy proxyTo(TestNode hub) {
    int port = Integer.parseInt(hub.entanglement().listenAddress().orElseThrow().split(":")[1]);
    return track(FaultyProxy.start("127.0.0.1", port));
  }

  private TestNode leaf(TestNode.Builder builder, FaultyProxy proxy) {
    return track(builder.peers(proxy.address()).start());
  }

  private static void awaitApart(TestNode a, TestNode b) {
    await().alias(a.name() + " and " + b.name() + " apart").atMost(Duration.ofSeconds(10))
        .until(() -> !a.entanglement().connectedPeers().contains(b.name())
            && !b.entanglement().connectedPeers().contains(a.name()));
  }

  private static void awaitTogether(TestNode a, TestNode b) {
    a.awaitConnected(b.name());
    b.awaitConnected(a.name());
  }

  private static <T> T done(CompletableFuture<T> future) throws Exception {
    return future.get(Long.parseLong(TIMEOUT_MS) + 5000, TimeUnit.MILLISECONDS);
  }

  @Test
  void quietOwner_staysReachableAfterLinkFlap() throws Exception {
    TestNode g = hub(node("g"));
    FaultyProxy cToG = proxyTo(g);
    FaultyProxy mToG = proxyTo(g);
    TestNode c = leaf(node("c"), cToG);
    TestNode m = leaf(node("m"), mToG);
    awaitTogether(c, g);
    awaitTogether(m, g);
    Item item = new Item("quiet-1", "from c", 1);
    c.inTransaction(em -> em.persist(item));
    await().atMost(Duration.ofSeconds(10)).until(() -> m.find(Item.class, item.getId()) != null);

    mToG.cut();
    awaitApart(m, g);
    mToG.heal();
    awaitTogether(m, g);

    // c committed nothing since: the route must come from the directory, not from c's data
    Item updated = done(m.entanglement().update(Item.class, item.getId(), i -> i.setName("renamed at m")));
    assertThat(updated.getName()).isEqualTo("renamed at m");
    assertThat(c.find(Item.class, item.getId()).getName()).isEqualTo("renamed at m");
  }

  @Test
  void createForOwnerThatNeverCommitted() throws Exception {
    TestNode g = hub(node("g"));
    TestNode c = leaf(node("c"), proxyTo(g));
    TestNode m = leaf(node("m"), proxyTo(g));
    awaitTogether(c, g);
    awaitTogether(m, g);

    Item created = done(c.entanglement().create(new Item("asked-of-m", "made at m", 7), "m"));
    assertThat(created.getName()).isEqualTo("made at m");
    Item atM = m.find(Item.class, created.getId());
    assertThat(atM).isNotNull();
    assertThat(atM.getQuantity()).isEqualTo(7);
  }

  @Test
  void requestLeavesAsSoonAsRouteAppears() throws Exception {
    TestNode g = hub(node("g").set(EntanglementSettings.REQUEST_TIMEOUT_MS, "30000"));
    TestNode c = leaf(node("c").set(EntanglementSettings.REQUEST_TIMEOUT_MS, "30000"), proxyTo(g));
    awaitTogether(c, g);
    FaultyProxy mToG = proxyTo(g);

    CompletableFuture<Item> create = c.entanglement().create(new Item("before-m", "waits for m", 3), "m");
    assertThat(create).isNotDone();
    TestNode m = leaf(node("m").set(EntanglementSettings.REQUEST_TIMEOUT_MS, "30000"), mToG);
    awaitTogether(m, g);
    long connectedAt = System.nanoTime();

    // far below the 30 s timeout: the route's arrival, not a timer, lets the request leave
    Item created = create.get(5, TimeUnit.SECONDS);
    assertThat(Duration.ofNanos(System.nanoTime() - connectedAt)).isLessThan(Duration.ofSeconds(5));
    assertThat(m.find(Item.class, created.getId())).isNotNull();
  }

  @Test
  void gatewayKeepsRouteWhenLeafCatchesItUp() throws Exception {
    TestNode range = hub(exercise("range"));
    FaultyProxy rangeToRed = proxyTo(range);
    TestNode staff = leaf(exercise("staff"), proxyTo(range));
    TestNode red = leaf(exercise("red"), rangeToRed);
    TestNode blue = leaf(exercise("blue"), proxyTo(range));
    for (TestNode leaf : List.of(staff, red, blue)) {
      awaitTogether(leaf, range);
    }
    Item staffItem = new Item("staff-1", "staff", 1);
    Item redItem = new Item("red-1", "red", 1);
    staff.inTransaction(em -> em.persist(staffItem));
    red.inTransaction(em -> em.persist(redItem));
    await().atMost(Duration.ofSeconds(10)).until(() -> staff.find(Item.class, redItem.getId()) != null
        && red.find(Item.class, staffItem.getId()) != null);

    rangeToRed.cut();
    awaitApart(range, red);
    // both commit while apart; red catches range up when the link heals
    Item redItem2 = new Item("red-2", "red, while apart", 2);
    red.inTransaction(em -> em.persist(redItem2));
    Item staffItem2 = new Item("staff-2", "staff, while apart", 2);
    staff.inTransaction(em -> em.persist(staffItem2));
    await().atMost(Duration.ofSeconds(10)).until(() -> range.find(Item.class, staffItem2.getId()) != null);
    // asked while red is away: they wait for the route instead of being refused on the way
    CompletableFuture<Item> staffAsksRed = staff.entanglement().update(Item.class, redItem.getId(), i -> i.setName("by staff"));
    CompletableFuture<Item> redAsksStaff = red.entanglement().update(Item.class, staffItem.getId(), i -> i.setName("by red"));
    rangeToRed.heal();
    awaitTogether(range, red);

    assertThat(done(staffAsksRed).getName()).isEqualTo("by staff");
    assertThat(done(redAsksStaff).getName()).isEqualTo("by red");
    // and afterwards, both ways, also for what red committed while apart
    await().atMost(Duration.ofSeconds(10)).until(() -> red.find(Item.class, staffItem2.getId()) != null);
    assertThat(done(red.entanglement().update(Item.class, staffItem2.getId(), i -> i.setQuantity(5))).getQuantity())
        .isEqualTo(5);
    await().atMost(Duration.ofSeconds(10)).until(() -> staff.find(Item.class, redItem2.getId()) != null);
    assertThat(done(staff.entanglement().update(Item.class, redItem2.getId(), i -> i.setQuantity(9))).getQuantity())
        .isEqualTo(9);
    assertThat(red.find(Item.class, redItem2.getId()).getQuantity()).isEqualTo(9);
  }

  private static TestNode.Builder exercise(String name) {
    return node(name).set(EntanglementSettings.POLICY, ExercisePolicy.class.getName());
  }
}
