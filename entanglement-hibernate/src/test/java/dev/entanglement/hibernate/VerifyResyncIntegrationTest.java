package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.proto.v1.AdminResyncRequest;
import dev.entanglement.proto.v1.AdminResyncResponse;
import io.grpc.StatusRuntimeException;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A forced resynchronization as a repair tool: rows deleted or altered at a receiver behind the
 * plugin's back (plain JDBC, not through Hibernate, so its bookkeeping still says "current") come
 * back as the owner has them.
 */
class VerifyResyncIntegrationTest {
  private static final String TOKEN = "verify-token-0123456789abcdef";
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private TestNode a;
  private TestNode b;
  private List<Item> items;

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private void start(Database database) {
    String address = "verify-" + UUID.randomUUID();
    a = TestNode.builder("a", database, Item.class).listenInProcess(address)
        .set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_TOKEN, TOKEN).start();
    closeables.add(a);
    b = TestNode.builder("b", database, Item.class).peers("inprocess:" + address)
        .set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_TOKEN, TOKEN).start();
    closeables.add(b);
    b.awaitConnected("a");
    items = new ArrayList<>();
    a.inTransaction(em -> {
      for (int i = 0; i < 5; i++) {
        Item item = new Item("v-" + i, "item " + i, i);
        em.persist(item);
        items.add(item);
      }
    });
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
  }

  /** At b, behind the plugin's back: one row deleted, one row's column altered. */
  private void damageAtB() throws SQLException {
    b.jdbc("delete from Item where id = ?", items.get(0).getId());
    b.jdbc("update Item set name = 'altered behind its back' where id = ?", items.get(1).getId());
    assertThat(b.table("Item")).isNotEqualTo(a.table("Item"));
  }

  private static AdminGrpc.AdminBlockingStub admin(TestNode node, List<AutoCloseable> closeables) {
    ManagedChannel channel = NettyChannelBuilder.forTarget(node.entanglement().adminAddress().orElseThrow())
        .usePlaintext().build();
    closeables.add(() -> channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + TOKEN);
    return AdminGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /**
   * The resynchronizations that existed before verify keep their cheap behaviour: the bookkeeping
   * says b is current, so nothing is read or rewritten (this was the reproduction of the problem:
   * before verify existed, none of these three brought the damage back either).
   */
  @ParameterizedTest
  @EnumSource(Database.class)
  void resendAndClear_trustTheBookkeeping_andLeaveTheDamage(Database database) throws Exception {
    start(database);
    damageAtB();
    List<String> damaged = b.table("Item");
    b.entanglement().resync("a", false).get(30, TimeUnit.SECONDS);
    assertThat(b.entanglement().resync("a", ResyncMode.CLEAR).get(30, TimeUnit.SECONDS))
        .isEqualTo(new ResyncReport("a", ResyncMode.CLEAR, 5, 0, 0));
    assertThat(b.entanglement().resync("a", ResyncMode.RESEND).get(30, TimeUnit.SECONDS))
        .isEqualTo(new ResyncReport("a", ResyncMode.RESEND, 5, 0, 0));
    assertThat(admin(a, closeables).resync(AdminResyncRequest.newBuilder().setPeer("b").build()).getMessage())
        .isEqualTo("sending peer 'b' everything again, with a sweep");
    a.awaitCaughtUp("b");
    assertThat(b.table("Item")).isEqualTo(damaged);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void verify_bringsBackTheDeletedRow_andRestoresTheAlteredColumn(Database database) throws Exception {
    start(database);
    damageAtB();
    // a column that is not replicated is b's own: never counted as different, never overwritten
    b.jdbc("update Item set localNote = 'b''s own note' where id = ?", items.get(2).getId());

    ResyncReport report = b.entanglement().resync("a", ResyncMode.VERIFY).get(30, TimeUnit.SECONDS);

    assertThat(report).isEqualTo(new ResyncReport("a", ResyncMode.VERIFY, 5, 2, 0));
    assertThat(b.find(Item.class, items.get(0).getId())).isNotNull();
    assertThat(b.find(Item.class, items.get(1).getId()).getName()).isEqualTo("item 1");
    assertThat(b.find(Item.class, items.get(2).getId()).getLocalNote()).isEqualTo("b's own note");
    b.jdbc("update Item set localNote = null where id = ?", items.get(2).getId());
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
    assertThat(b.entanglement().parkedChanges()).isZero();
    // done: a second check finds nothing to repair
    assertThat(b.entanglement().resync("a", ResyncMode.VERIFY).get(30, TimeUnit.SECONDS).repaired()).isZero();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void verify_removesWhatTheOwnerDeleted_aRowBroughtBackAndAnObjectTheOwnerNoLongerKnows(Database database)
      throws Exception {
    start(database);
    UUID deleted = items.get(3).getId();
    a.inTransaction(em -> em.remove(em.find(Item.class, deleted)));
    a.awaitCaughtUp("b");
    assertThat(b.find(Item.class, deleted)).isNull();
    // at b, behind the plugin's back, the deleted row comes back (a restored table)
    b.jdbc("insert into Item (id, code, name, quantity, version) values (?, 'v-3', 'item 3', 3, 0)", deleted);
    // a loses all trace of another object (its tombstone compacted, say): b still holds it
    UUID forgotten = items.get(4).getId();
    a.jdbc("delete from Item where id = ?", forgotten);
    a.jdbc("delete from entanglement_object where object_id = ?", forgotten.toString());

    ResyncReport report = b.entanglement().resync("a", ResyncMode.VERIFY).get(30, TimeUnit.SECONDS);

    // the tombstone of the deleted object is among the 4 received: the row present though deleted is repaired
    assertThat(report).isEqualTo(new ResyncReport("a", ResyncMode.VERIFY, 4, 1, 1));
    assertThat(b.find(Item.class, deleted)).isNull();
    assertThat(b.find(Item.class, forgotten)).isNull();
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
  }

  /**
   * Only the state of the serial b holds is repaired: where b's bookkeeping holds a newer state
   * than the one a sends (it arrived meanwhile, through another peer), the older state never
   * overwrites it, whatever its content.
   */
  @ParameterizedTest
  @EnumSource(Database.class)
  void verify_neverWritesAnOlderStateOverANewerOne(Database database) throws Exception {
    start(database);
    UUID newer = items.get(1).getId();
    b.jdbc("update Item set name = 'a newer state' where id = ?", newer);
    b.jdbc("update entanglement_object set serial = 1000 where object_id = ?", newer.toString());

    ResyncReport report = b.entanglement().resync("a", ResyncMode.VERIFY).get(30, TimeUnit.SECONDS);

    assertThat(report.repaired()).isZero();
    assertThat(report.removed()).isZero();
    assertThat(b.find(Item.class, newer).getName()).isEqualTo("a newer state");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void adminApi_verifyPushedByTheOwner_andPulledByTheReceiverWithItsCounts(Database database) throws Exception {
    start(database);
    damageAtB();
    AdminGrpc.AdminBlockingStub adminA = admin(a, closeables);
    assertThat(adminA.resync(AdminResyncRequest.newBuilder().setPeer("b").setVerify(true).build()).getMessage())
        .isEqualTo("sending peer 'b' everything again, with a sweep and a content check (the peer repairs rows "
            + "that differ and logs how many)");
    await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(b.table("Item")).isEqualTo(a.table("Item")));
    assertThatThrownBy(() -> adminA.resync(AdminResyncRequest.newBuilder().setPeer("b").setEntity("Item")
        .setVerify(true).build())).isInstanceOf(StatusRuntimeException.class)
        .hasMessageContaining("INVALID_ARGUMENT").hasMessageContaining("leave out the entity 'Item'");

    damageAtB();
    AdminResyncResponse pulled = admin(b, closeables).resync(AdminResyncRequest.newBuilder().setPeer("a")
        .setFromPeer(true).setVerify(true).build());
    assertThat(pulled.getMessage()).isEqualTo("5 objects received from peer 'a', 2 repaired, 0 removed");
    assertThat(pulled.getRepaired()).isEqualTo(2);
    assertThat(b.table("Item")).isEqualTo(a.table("Item"));
  }
}
