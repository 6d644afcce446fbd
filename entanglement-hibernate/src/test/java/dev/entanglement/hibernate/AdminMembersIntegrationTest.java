package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.proto.v1.ListMembersRequest;
import dev.entanglement.proto.v1.ListMembersResponse;
import dev.entanglement.proto.v1.MemberInfo;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code ListMembers} through a real gRPC client over Netty on loopback, with two members of node
 * 'a' on one database (H2 and PostgreSQL): the holder of the links answers with both members,
 * itself first with its lease token and since when it holds the lease, the follower after it;
 * once the holder stops, the follower takes the links, opens the admin API and lists itself as
 * the holder.
 */
class AdminMembersIntegrationTest {
  private static final String TOKEN = "admin-token-0123456789abcdef";
  private static final long LEASE_TIMEOUT_MS = 1000;
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

  private AdminGrpc.AdminBlockingStub admin(TestNode member, String token) {
    ManagedChannel channel = NettyChannelBuilder.forTarget(member.entanglement().adminAddress().orElseThrow())
        .usePlaintext().build();
    closeables.add(() -> channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS));
    AdminGrpc.AdminBlockingStub stub = AdminGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    if (token == null) {
      return stub;
    }
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
  }

  private static long leaseToken(TestNode member) {
    return ((Number) member.sql("select token from entanglement_lease where node_name = 'a'")).longValue();
  }

  private static Object leaseHolder(TestNode member) {
    return member.sql("select member_id from entanglement_lease where node_name = 'a'");
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void listMembers_namesEveryMember_theHolderFirst_andTheFollowerListsItselfOnceItTookTheLinks(Database database) {
    String address = "members-b-" + UUID.randomUUID();
    track(TestNode.builder("b", database, Item.class).listenInProcess(address).start());
    Instant beforeFirst = Instant.now();
    TestNode first = track(TestNode.builder("a", database, Item.class).peers("inprocess:" + address)
        .set(EntanglementSettings.NODE_LEASE_TIMEOUT_MS, String.valueOf(LEASE_TIMEOUT_MS))
        .set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_TOKEN, TOKEN).start());
    TestNode second = track(first.again().start());
    assertThat(second.entanglement().adminAddress()).as("a follower serves no admin API").isEmpty();
    AdminGrpc.AdminBlockingStub admin = admin(first, TOKEN);

    ListMembersResponse listed = admin.listMembers(ListMembersRequest.getDefaultInstance());
    assertThat(listed.getNode()).isEqualTo("a");
    assertThat(listed.getMembersList()).as("both members, the holder first").hasSize(2);
    MemberInfo holder = listed.getMembers(0);
    MemberInfo follower = listed.getMembers(1);
    assertThat(listed.getAnsweredBy()).as("the holder answers").isEqualTo(holder.getMember());
    assertThat(holder.getMember()).isEqualTo(leaseHolder(first));
    assertThat(holder.getHoldsLinks()).isTrue();
    assertThat(holder.getLeaseToken()).isEqualTo(leaseToken(first)).isPositive();
    assertThat(holder.getHost()).matches(".+ \\(pid \\d+\\)");
    assertThat(Instant.parse(holder.getStarted())).isAfterOrEqualTo(beforeFirst.minusSeconds(5));
    assertThat(Instant.parse(holder.getHoldsSince())).as("since when it holds the lease")
        .isAfterOrEqualTo(beforeFirst).isBeforeOrEqualTo(Instant.now());
    assertThat(follower.getMember()).isNotEqualTo(holder.getMember()).hasSize(36);
    assertThat(follower.getHoldsLinks()).isFalse();
    assertThat(follower.getLeaseToken()).as("only the holder has a token").isZero();
    assertThat(follower.getHoldsSince()).isEmpty();
    assertThat(Instant.parse(follower.getStarted())).isAfterOrEqualTo(Instant.parse(holder.getStarted()));
    // every member beats every fifth of the lease timeout: both ages stay below the timeout
    await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(admin.listMembers(
        ListMembersRequest.getDefaultInstance()).getMembersList()).hasSize(2).allSatisfy(member ->
        assertThat(member.getHeartbeatAgeMs()).isBetween(0L, LEASE_TIMEOUT_MS - 1)));

    assertThatThrownBy(() -> admin(first, null).listMembers(ListMembersRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
    assertThatThrownBy(() -> admin(first, "not-the-token-at-all").listMembers(ListMembersRequest.getDefaultInstance()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));

    // the holder stops: the follower takes the links, serves the admin API and lists itself
    Instant beforeTakeOver = Instant.now();
    first.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> second.entanglement().adminAddress().isPresent());
    ListMembersResponse after = admin(second, TOKEN).listMembers(ListMembersRequest.getDefaultInstance());
    assertThat(after.getMembersList()).as("the stopped member left").hasSize(1);
    MemberInfo now = after.getMembers(0);
    assertThat(now.getMember()).isEqualTo(follower.getMember()).isEqualTo(after.getAnsweredBy())
        .isEqualTo(leaseHolder(second));
    assertThat(now.getHoldsLinks()).isTrue();
    assertThat(now.getLeaseToken()).isEqualTo(leaseToken(second)).isPositive();
    assertThat(Instant.parse(now.getHoldsSince())).isAfterOrEqualTo(beforeTakeOver).isBeforeOrEqualTo(Instant.now());
    assertThat(now.getStarted()).isEqualTo(follower.getStarted());
    assertThat(now.getHeartbeatAgeMs()).isBetween(0L, 10 * LEASE_TIMEOUT_MS);
  }
}
