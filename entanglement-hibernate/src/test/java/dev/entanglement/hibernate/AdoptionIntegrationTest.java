package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.AdoptionStatus.State;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Customer;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Pinboard;
import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.proto.v1.AdoptRequest;
import dev.entanglement.proto.v1.AdoptionResponse;
import dev.entanglement.proto.v1.AdoptionStatusRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Adoption of existing data (docs/adoption.md): rows present before the plugin, or written
 * behind its back, are announced as the node's own objects, reach connected peers and late
 * joiners, and never overwrite a newer state the application commits meanwhile.
 */
class AdoptionIntegrationTest {
  private static final String TOKEN = "adoption-token-0123456789abcdef";
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closing(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  /** Node a's database with {@code count} items written while the plugin was not there. */
  private TestNode.Builder withRowsBeforeThePlugin(Database database, int count) {
    TestNode.Builder builder = TestNode.builder("a", database, Item.class).set(EntanglementSettings.ENABLED, false);
    TestNode plain = builder.start();
    plain.inTransaction(em -> {
      for (int i = 0; i < count; i++) {
        em.persist(new Item("pre-" + i, "existing " + i, i));
      }
    });
    plain.close();
    return plain.again().set(EntanglementSettings.ENABLED, true);
  }

  private TestNode peer(String name, Database database, String address) {
    TestNode node = closing(TestNode.builder(name, database, Item.class).peers("inprocess:" + address).start());
    node.awaitConnected("a");
    return node;
  }

  private static AdoptionStatus only(List<AdoptionStatus> statuses) {
    assertThat(statuses).hasSize(1);
    return statuses.get(0);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void rowsPresentBeforeThePlugin_areNotSentUntilAdopted_thenReachThePeer_andASecondAdoptionSkipsThem(Database database)
      throws Exception {
    String address = "adopt-" + UUID.randomUUID();
    TestNode a = closing(withRowsBeforeThePlugin(database, 30).listenInProcess(address).start());
    TestNode b = peer("b", database, address);
    a.awaitCaughtUp("b");
    assertThat(b.all(Item.class)).isEmpty(); // what the brief calls the problem: never sent today
    assertThat(a.entanglement().adoption()).isEmpty();

    AdoptionStatus done = only(a.entanglement().adopt(Item.class).get(60, TimeUnit.SECONDS));

    assertThat(done.state()).isEqualTo(State.DONE);
    assertThat(done.scanned()).isEqualTo(30);
    assertThat(done.announced()).isEqualTo(30);
    assertThat(done.skipped()).isZero();
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).hasSize(30).isEqualTo(a.table("Item"));
    assertThat(a.entanglement().describe(Item.class, b.all(Item.class).get(0).getId()).orElseThrow().owner())
        .isEqualTo("a");
    // b changes one of them: an update request a decides (and writes with its digest)
    UUID changed = b.all(Item.class).get(0).getId();
    b.entanglement().update(Item.class, changed, item -> item.setName("renamed by b")).get(30, TimeUnit.SECONDS);
    assertThat(a.find(Item.class, changed).getName()).isEqualTo("renamed by b");
    // known now, and unchanged since: a second adoption announces nothing
    AdoptionStatus again = only(a.entanglement().adopt().get(60, TimeUnit.SECONDS));
    assertThat(again.announced()).isZero();
    assertThat(again.skipped()).isEqualTo(30);
    assertThat(a.entanglement().adoption()).extracting(AdoptionStatus::state).containsExactly(State.DONE);
  }

  /** An adopted row's collections travel with it (a stateless read leaves them lazy until fetched). */
  @ParameterizedTest
  @EnumSource(Database.class)
  void anAdoptedRowWithCollections_reachesThePeerWithThem(Database database) throws Exception {
    TestNode.Builder builder = TestNode.builder("a", database, Item.class, Customer.class, dev.entanglement.hibernate.testing.model.Purchase.class, Pinboard.class)
        .set(EntanglementSettings.ENABLED, false);
    TestNode plain = builder.start();
    Pinboard board = new Pinboard("existing board");
    board.tags.addAll(java.util.Set.of("red", "green"));
    board.counts.put("pins", 3);
    plain.inTransaction(em -> em.persist(board));
    plain.close();
    String address = "adopt-collections-" + UUID.randomUUID();
    TestNode a = closing(plain.again().set(EntanglementSettings.ENABLED, true).listenInProcess(address).start());
    TestNode b = closing(TestNode.builder("b", database, Item.class, Customer.class, dev.entanglement.hibernate.testing.model.Purchase.class, Pinboard.class)
        .peers("inprocess:" + address).start());
    b.awaitConnected("a");

    AdoptionStatus done = only(a.entanglement().adopt(Pinboard.class).get(60, TimeUnit.SECONDS));

    assertThat(done.state()).isEqualTo(State.DONE);
    a.awaitCaughtUp("b");
    assertThat(b.table("pinboard_tags")).isEqualTo(a.table("pinboard_tags")).hasSize(2);
    assertThat(b.table("pinboard_counts")).isEqualTo(a.table("pinboard_counts")).hasSize(1);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aBulkHqlUpdateBehindThePluginsBack_isAnnouncedAgain_onlyForTheRowsItChanged(Database database)
      throws Exception {
    String address = "adopt-" + UUID.randomUUID();
    TestNode a = closing(TestNode.builder("a", database, Item.class).listenInProcess(address).start());
    TestNode b = peer("b", database, address);
    a.inTransaction(em -> {
      for (int i = 0; i < 10; i++) {
        em.persist(new Item("bulk-" + i, "captured " + i, i));
      }
    });
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
    // bulk HQL: no entity events, so nothing is captured
    a.inTransaction(em -> assertThat(em.createQuery("update Item set name = 'bulk renamed' where quantity < 4")
        .executeUpdate()).isEqualTo(4));
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).isNotEqualTo(a.table("Item"));

    AdoptionStatus done = only(a.entanglement().adopt(Item.class).get(60, TimeUnit.SECONDS));

    assertThat(done.announced()).as("the rows the bulk update changed, and only those").isEqualTo(4);
    assertThat(done.skipped()).isEqualTo(6);
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aBulkDeleteBehindThePluginsBack_isAnnouncedAsDeleted_andOtherOwnersObjectsAreLeftAlone(Database database)
      throws Exception {
    String address = "adopt-" + UUID.randomUUID();
    TestNode a = closing(TestNode.builder("a", database, Item.class).listenInProcess(address)
        .set(EntanglementSettings.ADOPT_CHUNK_SIZE, 3).start());
    TestNode b = peer("b", database, address);
    a.inTransaction(em -> {
      for (int i = 0; i < 8; i++) {
        em.persist(new Item("del-" + i, "captured " + i, i));
      }
    });
    b.inTransaction(em -> em.persist(new Item("of-b", "b's own", 50)));
    a.awaitCaughtUp("b");
    b.awaitCaughtUp("a");
    await().atMost(Duration.ofSeconds(30)).until(() -> a.all(Item.class).size() == 9);
    // bulk HQL at a: its own rows with quantity < 3 and b's object, all behind the plugin's back
    a.inTransaction(em -> assertThat(em.createQuery("delete from Item where quantity < 3 or quantity = 50")
        .executeUpdate()).isEqualTo(4));
    assertThat(b.all(Item.class)).hasSize(9);

    AdoptionStatus done = only(a.entanglement().adopt().get(60, TimeUnit.SECONDS));

    assertThat(done.removed()).as("a's objects deleted behind its back; b's is b's to decide").isEqualTo(3);
    assertThat(done.announced()).isZero();
    a.awaitCaughtUp("b");
    assertThat(b.all(Item.class)).extracting(Item::getCode)
        .containsExactlyInAnyOrder("del-3", "del-4", "del-5", "del-6", "del-7", "of-b");
    assertThat(a.entanglement().describe(Item.class, b.all(Item.class).stream()
        .filter(i -> i.getCode().equals("of-b")).findFirst().orElseThrow().getId()).orElseThrow().owner())
        .isEqualTo("b");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void aNodeJoiningAfterTheAdoption_receivesTheRowsByCatchUp(Database database) throws Exception {
    String address = "adopt-" + UUID.randomUUID();
    TestNode a = closing(withRowsBeforeThePlugin(database, 12).listenInProcess(address)
        .set(EntanglementSettings.ADOPT_CHUNK_SIZE, 5).start());
    // and rows inserted in plain SQL behind the plugin's back, while it runs
    for (int i = 0; i < 3; i++) {
      a.jdbc("insert into Item (id, code, name, quantity, version) values (?, ?, 'by sql', ?, 0)", UUID.randomUUID(),
          "sql-" + i, 100 + i);
    }
    AdoptionStatus done = only(a.entanglement().adopt().get(60, TimeUnit.SECONDS));
    assertThat(done.announced()).isEqualTo(15);

    TestNode late = peer("late", database, address);
    a.awaitCaughtUp("late");
    assertThat(late.table("Item")).hasSize(15).isEqualTo(a.table("Item"));
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void withAdoptOnStart_theNodeAdoptsAtBoot_andCountsItInItsMetrics(Database database) {
    String address = "adopt-" + UUID.randomUUID();
    var registry = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
    TestNode a = closing(withRowsBeforeThePlugin(database, 7).listenInProcess(address)
        .set(EntanglementSettings.ADOPT_ON_START, "true").set(EntanglementSettings.METRICS_REGISTRY, registry).start());
    TestNode b = peer("b", database, address);
    await().atMost(Duration.ofSeconds(60)).until(() -> b.all(Item.class).size() == 7);
    await().atMost(Duration.ofSeconds(10)).until(() -> a.entanglement().adoption().stream()
        .anyMatch(s -> s.state() == State.DONE));
    assertThat(registry.get("entanglement.adoption.rows").tag("outcome", "announced").counter().count()).isEqualTo(7);
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
  }

  /**
   * Application writes during an adoption: a writer updates the rows just after the adoption's
   * cursor (the chunk being claimed) as fast as it can; whichever commits last, the peer ends
   * with the latest state of every row. Without the chunk's row lock, the adoption could announce
   * a state it read before a newer commit with a higher serial, and the peer would keep it.
   */
  @ParameterizedTest
  @EnumSource(Database.class)
  void applicationWritesDuringAnAdoption_areNeitherLostNorOverwrittenByAnOlderState(Database database)
      throws Exception {
    long seed = System.nanoTime();
    System.out.println("AdoptionIntegrationTest seed " + seed);
    Random random = new Random(seed);
    String address = "adopt-" + UUID.randomUUID();
    TestNode a = closing(withRowsBeforeThePlugin(database, 600).listenInProcess(address)
        .set(EntanglementSettings.ADOPT_CHUNK_SIZE, 20).start());
    TestNode b = peer("b", database, address);
    AtomicBoolean adopting = new AtomicBoolean(true);
    AtomicInteger writes = new AtomicInteger();
    CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
      while (adopting.get()) {
        String after = a.entanglement().adoption().stream().map(AdoptionStatus::afterId).filter(id -> id != null)
            .findFirst().orElse(null);
        try {
          a.inTransaction(em -> {
            var query = em.createQuery(after == null ? "from Item i order by i.id"
                : "from Item i where i.id > :after order by i.id", Item.class).setMaxResults(1 + random.nextInt(20));
            if (after != null) {
              query.setParameter("after", UUID.fromString(after));
            }
            List<Item> next = query.getResultList();
            if (!next.isEmpty()) {
              Item item = next.get(next.size() - 1);
              item.setQuantity(item.getQuantity() + 1000);
            }
          });
          writes.incrementAndGet();
        } catch (RuntimeException e) {
          // a lock timeout while the chunk holds the row: the application would retry too
        }
      }
    });
    List<AdoptionStatus> done = a.entanglement().adopt().get(120, TimeUnit.SECONDS);
    adopting.set(false);
    writer.get(30, TimeUnit.SECONDS);
    assertThat(only(done).scanned()).isEqualTo(600);
    assertThat(writes.get()).as("seed %d: the writer ran during the adoption", seed).isPositive();
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).as("seed %d, %d writes", seed, writes.get()).isEqualTo(a.table("Item"));
  }

  @Test
  void adminApi_adoptsAndReportsProgress_andNamesAnUnknownEntity() throws Exception {
    TestNode a = closing(withRowsBeforeThePlugin(Database.H2, 4)
        .set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_TOKEN, TOKEN).start());
    ManagedChannel channel = NettyChannelBuilder.forTarget(a.entanglement().adminAddress().orElseThrow())
        .usePlaintext().build();
    closeables.add(() -> channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + TOKEN);
    AdminGrpc.AdminBlockingStub admin = AdminGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers)).withDeadlineAfter(30, TimeUnit.SECONDS);

    assertThat(admin.adoptionStatus(AdoptionStatusRequest.getDefaultInstance()).getMessage())
        .isEqualTo("no adoption has run on this node");
    AdoptionResponse done = admin.adopt(AdoptRequest.newBuilder().addEntity("Item").setWait(true).build());
    assertThat(done.getMessage()).isEqualTo("adoption finished");
    assertThat(done.getAdoptions(0).getState()).isEqualTo("DONE");
    assertThat(done.getAdoptions(0).getAnnounced()).isEqualTo(4);
    assertThat(admin.adoptionStatus(AdoptionStatusRequest.getDefaultInstance()).getAdoptions(0).getScanned())
        .isEqualTo(4);
    assertThatThrownBy(() -> admin.adopt(AdoptRequest.newBuilder().addEntity("Nothing").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
          assertThat(e.getStatus().getDescription()).isEqualTo("node 'a' has no @Entangled entity named 'Nothing'; it "
              + "has [Item]");
        });
  }

  @Test
  void aBadChunkSize_failsTheBoot_namingTheSetting() {
    assertThatThrownBy(() -> TestNode.builder("a", Database.H2, Item.class)
        .set(EntanglementSettings.ADOPT_CHUNK_SIZE, "0").start())
        .hasStackTraceContaining("Setting entanglement.adopt.chunk_size has the invalid value '0'; expected a whole "
            + "number from 1 to 100000");
    assertThatThrownBy(() -> TestNode.builder("a", Database.H2, Item.class)
        .set(EntanglementSettings.ADOPT_ON_START, "yes").start())
        .hasStackTraceContaining("Setting entanglement.adopt.on_start has the invalid value 'yes'; expected true or false");
  }
}
