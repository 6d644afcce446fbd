package dev.entanglement.sample.entangled;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.entanglement.hibernate.EntanglementSettings;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two entangled nodes in one JVM on temporary directories, over gRPC on loopback, driven through
 * their files and their HTTP API.
 */
class EntangledTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();
  private final List<String> log = new CopyOnWriteArrayList<>();
  private final List<EntangledNode> running = new ArrayList<>();
  @TempDir Path root;
  private Path dirA;
  private Path dirB;
  private Path fileA;
  private Path fileB;
  private EntangledNode a;
  private EntangledNode b;

  @BeforeEach
  void directories() throws Exception {
    dirA = Files.createDirectories(root.resolve("a/etc"));
    dirB = Files.createDirectories(root.resolve("b/etc"));
    fileA = dirA.resolve("app.conf");
    fileB = dirB.resolve("app.conf");
  }

  @AfterEach
  void close() {
    running.forEach(EntangledNode::close);
  }

  /** Each node's root is its own directory; both know the file as "etc/app.conf". */
  private EntangledNode startA() throws Exception {
    a = start("a", dirA, null);
    return a;
  }

  private EntangledNode startB() throws Exception {
    b = start("b", dirB, a.entanglement().listenAddress().orElseThrow());
    return b;
  }

  private EntangledNode start(String name, Path dir, String peer) throws Exception {
    EntangledNode node = EntangledNode.start(new EntangledNode.Options(name, "127.0.0.1:0", peer,
        root.resolve(name + "/data"), root.resolve(name), List.of(dir.resolve("app.conf")), 0, Duration.ofMillis(300),
        Map.of(EntanglementSettings.PLAINTEXT, "true", EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50",
            EntanglementSettings.RECONNECT_MAX_DELAY_MS, "300")), log::add);
    running.add(node);
    return node;
  }

  private void stopB() {
    running.remove(b);
    b.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> a.entanglement().connectedPeers().isEmpty());
  }

  /** The same path key on both nodes: the test gives both the absolute path of each one's own file. */
  private JsonNode state(EntangledNode node) throws Exception {
    HttpResponse<String> response = http.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + node.httpPort() + "/api/1/state")).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type")).contains("application/json");
    return JSON.readTree(response.body());
  }

  private String status(EntangledNode node) throws Exception {
    return state(node).get("files").get(0).get("status").asText();
  }

  private HttpResponse<String> post(EntangledNode node, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.httpPort() + path))
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
  }

  private void awaitStatus(String expected) {
    await().atMost(Duration.ofSeconds(15)).ignoreExceptions()
        .until(() -> status(a).equals(expected) && status(b).equals(expected));
  }

  private void awaitBothKnown() {
    await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() ->
        state(a).get("files").get(0).get("peer").get("known").asBoolean()
            && state(b).get("files").get(0).get("peer").get("known").asBoolean());
  }

  @Test
  void bootstrapAligned_andTheStateJsonFieldByField() throws Exception {
    Files.writeString(fileA, "port=8080\n");
    Files.writeString(fileB, "port=8080\n");
    startA();
    startB();
    awaitBothKnown();
    awaitStatus("aligned");
    JsonNode state = state(a);
    assertThat(state.get("node").asText()).isEqualTo("a");
    assertThat(state.get("peer").asText()).isEqualTo("b");
    assertThat(state.get("peerConnected").asBoolean()).isTrue();
    JsonNode file = state.get("files").get(0);
    assertThat(file.get("path").asText()).isEqualTo(fileA.toString());
    assertThat(file.get("key").asText()).isEqualTo("etc/app.conf");
    assertThat(file.get("status").asText()).isEqualTo("aligned");
    String md5 = EntangledNode.md5("port=8080\n".getBytes());
    assertThat(file.get("local").get("node").asText()).isEqualTo("a");
    assertThat(file.get("local").get("present").asBoolean()).isTrue();
    assertThat(file.get("local").get("md5").asText()).isEqualTo(md5);
    assertThat(file.get("local").get("modified").asText())
        .isEqualTo(java.time.Instant.ofEpochMilli(Files.getLastModifiedTime(fileA).toMillis()).toString());
    assertThat(file.get("peer").get("node").asText()).isEqualTo("b");
    assertThat(file.get("peer").get("md5").asText()).isEqualTo(md5);
    assertThat(file.get("peer").get("modified").asText())
        .isEqualTo(java.time.Instant.ofEpochMilli(Files.getLastModifiedTime(fileB).toMillis()).toString());
  }

  @Test
  void bootstrapMisaligned_isReportedAsSplitBrain_andNotResolved() throws Exception {
    Files.writeString(fileA, "port=8080\n");
    Files.writeString(fileB, "port=9090\n");
    startA();
    startB();
    awaitBothKnown();
    awaitStatus("split-brain");
    await().during(Duration.ofMillis(700)).atMost(Duration.ofSeconds(3)).until(() -> status(a).equals("split-brain"));
    assertThat(Files.readString(fileA)).isEqualTo("port=8080\n");
    assertThat(Files.readString(fileB)).isEqualTo("port=9090\n");
  }

  @Test
  void aChangePropagates_andReplacesTheOtherFileAtomically() throws Exception {
    Files.writeString(fileA, "v1\n");
    Files.writeString(fileB, "v1\n");
    startA();
    startB();
    awaitBothKnown();
    awaitStatus("aligned");
    Files.writeString(fileA, "v2: changed on a\n");
    await().atMost(Duration.ofSeconds(15)).until(() -> Files.readString(fileB).equals("v2: changed on a\n"));
    awaitStatus("aligned");
    try (var left = Files.list(dirB)) {
      assertThat(left.map(p -> p.getFileName().toString()).toList()).as("no temporary file left").containsExactly("app.conf");
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fileB))).isEqualTo("rw-r--r--");
    // and the other way
    Files.writeString(fileB, "v3: changed on b\n");
    await().atMost(Duration.ofSeconds(15)).until(() -> Files.readString(fileA).equals("v3: changed on b\n"));
  }

  @Test
  void aMissingFile_isReportedWithAWarning_andCreatedWith644WhenTheOtherNodeRequiresAlignment() throws Exception {
    Files.writeString(fileA, "only on a\n");
    startA();
    startB();
    assertThat(log).anySatisfy(line -> assertThat(line).isEqualTo(
        "warning: %s does not exist; it is created when the other node requires alignment".formatted(fileB)));
    awaitBothKnown();
    awaitStatus("misaligned");
    assertThat(Files.exists(fileB)).isFalse();
    HttpResponse<String> forced = post(a, "/api/1/force");
    assertThat(forced.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(forced.body()).get("forced").get(0).asText()).isEqualTo("etc/app.conf");
    await().atMost(Duration.ofSeconds(15)).until(() -> Files.exists(fileB));
    assertThat(Files.readString(fileB)).isEqualTo("only on a\n");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fileB))).isEqualTo("rw-r--r--");
    awaitStatus("aligned");
  }

  @Test
  void aChangeWhileApart_isSplitBrainAfterReconnecting_andAFurtherChangeInReachResolvesIt() throws Exception {
    Files.writeString(fileA, "v1\n");
    Files.writeString(fileB, "v1\n");
    startA();
    startB();
    awaitBothKnown();
    awaitStatus("aligned");
    stopB();
    Files.writeString(fileA, "v2 while apart\n");
    await().atMost(Duration.ofSeconds(10)).until(() -> status(a).equals("split-brain"));
    startB();
    await().atMost(Duration.ofSeconds(15)).until(() -> b.entanglement().connectedPeers().contains("a"));
    awaitStatus("split-brain");
    await().during(Duration.ofMillis(700)).atMost(Duration.ofSeconds(3)).until(() -> status(b).equals("split-brain"));
    assertThat(Files.readString(fileB)).as("reconnecting alone overwrites nothing").isEqualTo("v1\n");

    Files.writeString(fileA, "v3 in reach\n");
    await().atMost(Duration.ofSeconds(15)).until(() -> Files.readString(fileB).equals("v3 in reach\n"));
    awaitStatus("aligned");
  }

  @Test
  void force_realignsTheOtherNode_oneFileOrAll() throws Exception {
    Files.writeString(fileA, "a's\n");
    Files.writeString(fileB, "b's\n");
    startA();
    startB();
    awaitBothKnown();
    awaitStatus("split-brain");
    HttpResponse<String> one = post(b, "/api/1/force?path=etc/app.conf");
    assertThat(one.statusCode()).isEqualTo(200);
    await().atMost(Duration.ofSeconds(15)).until(() -> Files.readString(fileA).equals("b's\n"));
    awaitStatus("aligned");

    Files.writeString(fileA, "a again\n");
    await().atMost(Duration.ofSeconds(15)).until(() -> Files.readString(fileB).equals("a again\n"));
    HttpResponse<String> unknown = post(a, "/api/1/force?path=etc/nope.conf");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(unknown.body()).get("error").asText())
        .isEqualTo("'etc/nope.conf' is not one of the files of node 'a'");
    HttpResponse<String> wrongMethod = http.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + a.httpPort() + "/api/1/force")).GET().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(wrongMethod.statusCode()).isEqualTo(405);
  }

  @Test
  void aDirectoryIsRefusedAtStart() {
    assertThatThrownBy(() -> EntangledNode.start(new EntangledNode.Options("a", "127.0.0.1:0", null, root.resolve("data"),
        root, List.of(dirA), 0, Duration.ofSeconds(1), Map.of(EntanglementSettings.PLAINTEXT, "true")), log::add))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("'%s' is a directory; entangled keeps single files aligned, never directories: list the files in it one by one"
            .formatted(dirA));
    int status = EntangledMain.run(new String[] {"--node", "a", "--listen", "127.0.0.1:0", "--data-dir",
        root.resolve("data").toString(), "--file", dirA.toString(), "--plaintext", "--http-port", "0"});
    assertThat(status).isEqualTo(2);
  }

  @Test
  void openApiAndSwaggerUi_areServed() throws Exception {
    Files.writeString(fileA, "x\n");
    startA();
    String base = "http://127.0.0.1:" + a.httpPort();
    HttpResponse<String> openapi = http.send(HttpRequest.newBuilder(URI.create(base + "/api/1/openapi.yaml")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(openapi.statusCode()).isEqualTo(200);
    assertThat(openapi.body()).startsWith("openapi: 3.0.3").contains("/api/1/state:", "/api/1/force:");
    HttpResponse<String> docs = http.send(HttpRequest.newBuilder(URI.create(base + "/api/1/docs")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(docs.body()).contains("swagger-ui-bundle.js", "/api/1/openapi.yaml");
    HttpResponse<String> bundle = http.send(HttpRequest.newBuilder(URI.create(base + "/webjars/swagger-ui/"
        + HttpApi.SWAGGER_UI + "/swagger-ui-bundle.js")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(bundle.statusCode()).isEqualTo(200);
    assertThat(bundle.body().length()).isGreaterThan(100_000);
  }
}
