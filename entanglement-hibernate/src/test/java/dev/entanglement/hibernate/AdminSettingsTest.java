package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.entanglement.hibernate.testing.Certificates;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.proto.v1.ListPeersRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Admin and metrics settings: misconfiguration fails the boot, naming the setting and what is expected. */
class AdminSettingsTest {
  private static final String TOKEN = "settings-token-0123456789";
  @TempDir Path dir;

  private static void assertBootFails(UnaryOperator<TestNode.Builder> settings, String message) {
    TestNode.Builder builder = settings.apply(TestNode.builder("a", Database.H2, Item.class));
    assertThatThrownBy(builder::start).satisfies(e -> {
      Throwable t = e;
      while (t != null && !(t instanceof EntanglementConfigurationException)) {
        t = t.getCause();
      }
      assertThat(t).as("an EntanglementConfigurationException among the causes of %s", e).isNotNull();
      assertThat(t).hasMessage(message);
    });
  }

  @Test
  void anAdminListenerWithoutCredentials_failsTheBoot() {
    assertBootFails(b -> b.set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0"),
        "Setting entanglement.admin.listen is '127.0.0.1:0' but no admin credentials are configured: set "
            + "entanglement.admin.token (or entanglement.admin.token_file) and/or entanglement.admin.trusted_fingerprints; "
            + "the admin service is never open to whoever reaches the port");
  }

  @Test
  void badTokens_failTheBoot() {
    assertBootFails(b -> b.set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_TOKEN, "short"),
        "Setting entanglement.admin.token has a token of 5 characters; expected at least 16 (a long random string, "
            + "e.g. from 'openssl rand -hex 24')");
    assertBootFails(b -> b.set(EntanglementSettings.ADMIN_TOKEN, TOKEN).set(EntanglementSettings.ADMIN_TOKEN_FILE, "x"),
        "Settings entanglement.admin.token and entanglement.admin.token_file are both set; expected one of them");
    Path missing = dir.resolve("missing.token");
    assertThatThrownBy(() -> TestNode.builder("a", Database.H2, Item.class)
            .set(EntanglementSettings.ADMIN_TOKEN_FILE, missing.toString()).start())
        .hasStackTraceContaining("Setting entanglement.admin.token_file has the value '%s', which cannot be read".formatted(missing))
        .hasStackTraceContaining("expected a file holding the admin token");
  }

  @Test
  void badListenAddressAndFingerprints_failTheBoot() {
    assertBootFails(b -> b.set(EntanglementSettings.ADMIN_LISTEN, "9090").set(EntanglementSettings.ADMIN_TOKEN, TOKEN),
        "Setting entanglement.admin.listen has the invalid value '9090'; expected host:port (e.g. 127.0.0.1:7400) or inprocess:NAME");
    assertBootFails(b -> b.set(EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS, "abc"),
        "Setting entanglement.admin.trusted_fingerprints has the invalid value 'abc' in 'abc'; expected SHA-256 "
            + "fingerprints of admin client certificates: 64 hex digits each, comma separated");
    assertBootFails(b -> b.set(EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS, "ab".repeat(32)),
        "Setting entanglement.admin.trusted_fingerprints needs mutual TLS (entanglement.tls.*): admin certificates "
            + "are checked in the TLS handshake");
  }

  @Test
  void aPlaintextAdminListenerOffLoopback_needsPlaintextAskedForExplicitly() {
    assertBootFails(b -> b.set(EntanglementSettings.ADMIN_LISTEN, "0.0.0.0:0").set(EntanglementSettings.ADMIN_TOKEN, TOKEN),
        "Setting entanglement.admin.listen is '0.0.0.0:0', a non-loopback address, but the node has no mutual TLS "
            + "(entanglement.tls.*): the admin token would cross the network in clear text; expected a loopback address "
            + "(127.0.0.1, ::1, localhost), mutual TLS, or entanglement.transport.plaintext=true on a trusted network");
    try (TestNode a = TestNode.builder("a", Database.H2, Item.class).set(EntanglementSettings.ADMIN_LISTEN, "0.0.0.0:0")
        .set(EntanglementSettings.ADMIN_TOKEN, TOKEN).set(EntanglementSettings.PLAINTEXT, "true").start()) {
      assertThat(a.entanglement().adminAddress()).hasValueSatisfying(address -> assertThat(address).startsWith("0.0.0.0:"));
    }
  }

  @Test
  void aMetricsRegistryThatIsNotOne_failsTheBoot() {
    assertBootFails(b -> b.set(EntanglementSettings.METRICS_REGISTRY, "prometheus"),
        "Setting entanglement.metrics.registry holds a java.lang.String; expected an io.micrometer MeterRegistry");
  }

  @Test
  void theTokenFile_isTheToken() throws Exception {
    Path file = Files.writeString(dir.resolve("admin.token"), TOKEN + "\n");
    try (TestNode a = TestNode.builder("a", Database.H2, Item.class).set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.ADMIN_TOKEN_FILE, file.toString()).start()) {
      ManagedChannel channel = NettyChannelBuilder.forTarget(a.entanglement().adminAddress().orElseThrow()).usePlaintext().build();
      try {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + TOKEN);
        assertThat(AdminGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
            .withDeadlineAfter(10, TimeUnit.SECONDS).listPeers(ListPeersRequest.getDefaultInstance()).getNode()).isEqualTo("a");
      } finally {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void adminService_boundIntoTheApplicationsOwnServer_keepsItsAccessControl() throws Exception {
    try (TestNode bare = TestNode.builder("bare", Database.H2, Item.class).start()) {
      assertThatThrownBy(() -> bare.entanglement().adminService()).isInstanceOf(EntanglementConfigurationException.class)
          .hasMessage("The admin service needs credentials: set entanglement.admin.token (or entanglement.admin.token_file) "
              + "and/or entanglement.admin.trusted_fingerprints; it is never open to whoever reaches the server");
    }
    try (TestNode a = TestNode.builder("a", Database.H2, Item.class).set(EntanglementSettings.ADMIN_TOKEN, TOKEN).start()) {
      assertThat(a.entanglement().adminAddress()).as("no admin server of the plugin's own").isEmpty();
      String name = "app-server-" + java.util.UUID.randomUUID();
      io.grpc.Server server = io.grpc.inprocess.InProcessServerBuilder.forName(name)
          .addService(a.entanglement().adminService()).build().start();
      ManagedChannel channel = io.grpc.inprocess.InProcessChannelBuilder.forName(name).build();
      try {
        assertThatThrownBy(() -> AdminGrpc.newBlockingStub(channel).listPeers(ListPeersRequest.getDefaultInstance()))
            .isInstanceOfSatisfying(io.grpc.StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.UNAUTHENTICATED));
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + TOKEN);
        assertThat(AdminGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
            .listPeers(ListPeersRequest.getDefaultInstance()).getNode()).isEqualTo("a");
      } finally {
        channel.shutdownNow();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void anAdminListenerWithTls_andOnlyAdminCertificates_boots() throws Exception {
    Certificates certificates = new Certificates(dir);
    certificates.node("operator", "main");
    try (TestNode a = certificates.tls(TestNode.builder("a", Database.H2, Item.class)
        .set(EntanglementSettings.ADMIN_LISTEN, "0.0.0.0:0")
        .set(EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS, certificates.fingerprint("operator", "main")), "a", "main", "main")
        .start()) {
      assertThat(a.entanglement().adminAddress()).isPresent();
    }
  }
}
