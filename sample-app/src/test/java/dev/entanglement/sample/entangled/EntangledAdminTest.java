package dev.entanglement.sample.entangled;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.proto.v1.AdminGrpc;
import dev.entanglement.proto.v1.DescribeObjectRequest;
import dev.entanglement.proto.v1.ObjectDescription;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file versions are plugin objects like any other: the plugin's admin API describes them. */
class EntangledAdminTest {
  private static final String APP = "/etc/app.conf";
  private static final String TOKEN = "entangled-admin-token-for-tests";

  @TempDir Path temp;
  private EntangledPair pair;
  private ManagedChannel channel;

  @AfterEach
  void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (pair != null) {
      pair.close();
    }
  }

  @Test
  void theAdminApi_describesEachNodesFileVersion_withItsOwner() throws Exception {
    Path tokenFile = Files.writeString(temp.resolve("admin.token"), TOKEN);
    pair = new EntangledPair(temp, APP)
        .extraArgs("a", "--admin-listen", "127.0.0.1:0", "--admin-token-file", tokenFile.toString());
    pair.write("a", APP, "port = 8080\n");
    pair.write("b", APP, "port = 8080\n");
    pair.start();
    pair.awaitStatusOnBoth(APP, "aligned");

    String admin = pair.node("a").entanglement().adminAddress().orElseThrow();
    channel = Grpc.newChannelBuilder(admin, InsecureChannelCredentials.create()).build();
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + TOKEN);
    var stub = AdminGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(30, TimeUnit.SECONDS);

    ObjectDescription own = stub.describeObject(DescribeObjectRequest.newBuilder()
        .setEntity("FileVersion").setId(FileVersion.id("a", APP)).build());
    ObjectDescription peers = stub.describeObject(DescribeObjectRequest.newBuilder()
        .setEntity("FileVersion").setId(FileVersion.id("b", APP)).build());

    assertThat(own.getOwner()).isEqualTo("a");
    assertThat(own.getDeleted()).isFalse();
    assertThat(peers.getOwner()).isEqualTo("b");
  }
}
