package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.entanglement.hibernate.testing.Certificates;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.tls.DevCertificates;
import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.proto.v1.ListPeersRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin API over mutual TLS: an admin certificate by fingerprint is enough; others are refused. */
class AdminMutualTlsIntegrationTest {
  @TempDir Path dir;

  @Test
  void adminCertificate_isAccepted_otherCertificatesAndAnonymousCallsAreNot() throws Exception {
    Certificates certificates = new Certificates(dir);
    Path operator = certificates.node("operator", "main");
    Path intruder = certificates.node("intruder", "main");
    try (TestNode a = certificates.tls(TestNode.builder("a", Database.H2, Item.class)
            .set(EntanglementSettings.LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0")
            .set(EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS, certificates.fingerprint("operator", "main")),
        "a", "main", "main").start()) {
      String target = a.entanglement().adminAddress().orElseThrow();
      Path ca = certificates.ca("main").resolve(DevCertificates.CERTIFICATE);

      assertThat(call(target, ca, operator).getNode()).isEqualTo("a");
      assertThatThrownBy(() -> call(target, ca, null)).isInstanceOfSatisfying(StatusRuntimeException.class,
          e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
      assertThatThrownBy(() -> call(target, ca, intruder)).isInstanceOfSatisfying(StatusRuntimeException.class,
          e -> assertThat(e.getStatus().getCode()).isIn(Status.Code.UNAVAILABLE, Status.Code.PERMISSION_DENIED));
    }
  }

  private static dev.entanglement.proto.v1.ListPeersResponse call(String target, Path ca, Path client) throws Exception {
    SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(ca.toFile());
    if (client != null) {
      ssl.keyManager(client.resolve(DevCertificates.CERTIFICATE).toFile(), client.resolve(DevCertificates.PRIVATE_KEY).toFile());
    }
    ManagedChannel channel = NettyChannelBuilder.forTarget(target).sslContext(ssl.build()).overrideAuthority("a").build();
    try {
      return AdminGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
          .listPeers(ListPeersRequest.getDefaultInstance());
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
