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
import dev.entanglement.proto.v1.ListPeersResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin API over mutual TLS: an admin certificate by fingerprint is enough; another
 * certificate is PERMISSION_DENIED (naming its fingerprint) unless the token comes with it; no
 * credentials at all is UNAUTHENTICATED.
 */
class AdminMutualTlsIntegrationTest {
  private static final String TOKEN = "tls-admin-token-0123456789";
  @TempDir Path dir;

  @Test
  void adminCertificate_isAccepted_otherCertificatesAreDenied_anonymousCallsUnauthenticated() throws Exception {
    Certificates certificates = new Certificates(dir);
    Path operator = certificates.node("operator", "main");
    Path intruder = certificates.node("intruder", "main");
    try (TestNode a = certificates.tls(TestNode.builder("a", Database.H2, Item.class)
            .set(EntanglementSettings.LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0")
            .set(EntanglementSettings.ADMIN_TOKEN, TOKEN)
            .set(EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS, certificates.fingerprint("operator", "main")),
        "a", "main", "main").start()) {
      String target = a.entanglement().adminAddress().orElseThrow();
      Path ca = certificates.ca("main").resolve(DevCertificates.CERTIFICATE);

      assertThat(call(target, ca, operator, null).getNode()).isEqualTo("a");
      assertThatThrownBy(() -> call(target, ca, null, null)).isInstanceOfSatisfying(StatusRuntimeException.class,
          e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
      assertThatThrownBy(() -> call(target, ca, intruder, null)).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(e.getStatus().getDescription()).isEqualTo(("the client certificate presented to node 'a' (SHA-256 %s) "
            + "is not an admin certificate (entanglement.admin.trusted_fingerprints), and no token came with it")
            .formatted(certificates.fingerprint("intruder", "main")));
      });
      assertThat(call(target, ca, intruder, TOKEN).getNode()).as("the token is a credential of its own").isEqualTo("a");
      assertThat(call(target, ca, null, TOKEN).getNode()).isEqualTo("a");
    }
  }

  private static ListPeersResponse call(String target, Path ca, Path client, String token) throws Exception {
    SslContextBuilder ssl = GrpcSslContexts.forClient().trustManager(ca.toFile());
    if (client != null) {
      ssl.keyManager(client.resolve(DevCertificates.CERTIFICATE).toFile(), client.resolve(DevCertificates.PRIVATE_KEY).toFile());
    }
    ManagedChannel channel = NettyChannelBuilder.forTarget(target).sslContext(ssl.build()).overrideAuthority("a").build();
    try {
      AdminGrpc.AdminBlockingStub stub = AdminGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
      if (token != null) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
      }
      return stub.listPeers(ListPeersRequest.getDefaultInstance());
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
