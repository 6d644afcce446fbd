package dev.entanglement.sample.entangled;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.entanglement.hibernate.UpdateRequestException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The management API: state, forced alignment, its description and page; and refused starts. */
class EntangledApiTest {
  private static final String APP = "/etc/app.conf";
  private static final String DB = "/etc/db.conf";
  private static final String CACHE = "/etc/cache.conf";

  @TempDir Path temp;
  private EntangledPair pair;

  @AfterEach
  void stop() {
    if (pair != null) {
      pair.close();
    }
  }

  @Test
  void state_reportsEveryFieldOfBothNodesVersions() throws Exception {
    pair = new EntangledPair(temp, APP, DB);
    pair.write("a", APP, "port = 8080\n");
    pair.write("b", APP, "port = 8080\n");
    pair.write("a", DB, "url = a\n");
    pair.write("b", DB, "url = bb\n");
    Instant beforeStart = Instant.now().truncatedTo(ChronoUnit.MILLIS);
    pair.start();
    pair.awaitStatusOnBoth(APP, "aligned");
    pair.awaitStatusOnBoth(DB, "split-brain");
    // aligned at start: each node has recorded that its version includes the peer's
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> {
      JsonNode app = pair.fileState("a", APP);
      assertThat(app.get("local").get("basedOn").asLong()).isEqualTo(1);
      assertThat(app.get("remote").get("basedOn").asLong()).isEqualTo(1);
    });

    JsonNode state = pair.state("a");
    assertThat(state.get("node").asText()).isEqualTo("a");
    assertThat(state.get("peer").asText()).isEqualTo("b");
    assertThat(state.get("peerConnected").asBoolean()).isTrue();
    assertThat(state.get("files")).hasSize(2);

    JsonNode app = state.get("files").get(0);
    assertThat(app.get("path").asText()).isEqualTo(APP);
    assertThat(app.get("file").asText()).isEqualTo(pair.file("a", APP).toString());
    assertThat(app.get("status").asText()).isEqualTo("aligned");
    assertThat(app.get("detail").asText()).isEqualTo("same content on both nodes");
    assertThat(app.get("problem").isNull()).isTrue();
    assertVersion(app.get("local"), "a", pair.file("a", APP), "port = 8080\n", 1, 1, "REGISTERED", beforeStart);
    assertVersion(app.get("remote"), "b", pair.file("b", APP), "port = 8080\n", 1, 1, "REGISTERED", beforeStart);

    JsonNode db = state.get("files").get(1);
    assertThat(db.get("path").asText()).isEqualTo(DB);
    assertThat(db.get("file").asText()).isEqualTo(pair.file("a", DB).toString());
    assertThat(db.get("status").asText()).isEqualTo("split-brain");
    assertThat(db.get("detail").asText()).contains("node 'a' (generation 1)", "node 'b' (generation 1)",
        "made independently");
    assertVersion(db.get("local"), "a", pair.file("a", DB), "url = a\n", 1, 0, "REGISTERED", beforeStart);
    assertVersion(db.get("remote"), "b", pair.file("b", DB), "url = bb\n", 1, 0, "REGISTERED", beforeStart);

    // a change on a: its generation 2, based on b's 1; b adopts it, based on a's 2
    pair.write("a", APP, "port = 8081\n");
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.read("b", APP)).isEqualTo("port = 8081\n"));
    pair.awaitStatusOnBoth(APP, "aligned");
    JsonNode onA = pair.fileState("a", APP);
    assertVersion(onA.get("local"), "a", pair.file("a", APP), "port = 8081\n", 2, 1, "CHANGED", beforeStart);
    await().atMost(EntangledPair.WAIT).untilAsserted(() ->
        assertThat(pair.fileState("a", APP).get("remote").get("cause").asText()).isEqualTo("ADOPTED"));
    assertVersion(pair.fileState("a", APP).get("remote"), "b", pair.file("b", APP), "port = 8081\n", 1, 2,
        "ADOPTED", beforeStart);
  }

  private static void assertVersion(JsonNode version, String node, Path file, String content, long generation,
      long basedOn, String cause, Instant notBefore) throws Exception {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    assertThat(version.get("node").asText()).isEqualTo(node);
    assertThat(version.get("present").asBoolean()).isTrue();
    assertThat(version.get("md5").asText()).isEqualTo(FileReplicator.md5(bytes)).hasSize(32);
    assertThat(version.get("size").asLong()).isEqualTo(bytes.length);
    assertThat(version.get("modified").asText())
        .isEqualTo(Files.getLastModifiedTime(file).toInstant().truncatedTo(ChronoUnit.MILLIS).toString());
    assertThat(version.get("generation").asLong()).isEqualTo(generation);
    assertThat(version.get("basedOn").asLong()).isEqualTo(basedOn);
    assertThat(version.get("changedApart").asBoolean()).isFalse();
    assertThat(version.get("cause").asText()).isEqualTo(cause);
    assertThat(Instant.parse(version.get("recorded").asText())).isBetween(notBefore, Instant.now());
  }

  /** Three files that differ at start: split-brain on both nodes. */
  private void threeMisalignedFiles() {
    pair = new EntangledPair(temp, APP, DB, CACHE);
    pair.write("a", APP, "a1\n");
    pair.write("a", DB, "a2\n");
    pair.write("a", CACHE, "a3\n");
    pair.write("b", APP, "b1\n");
    pair.write("b", DB, "b2\n");
    pair.write("b", CACHE, "b3\n");
    pair.start();
    for (String name : List.of(APP, DB, CACHE)) {
      pair.awaitStatusOnBoth(name, "split-brain");
    }
  }

  @Test
  void forceOneFile_alignsOnlyThatFileOfThePeerToThisNode() {
    threeMisalignedFiles();

    HttpResponse<String> response = pair.post("b", "force?path=" + DB);

    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode result = EntangledPair.json(response.body());
    assertThat(result.get("node").asText()).isEqualTo("b");
    assertThat(result.get("peer").asText()).isEqualTo("a");
    assertThat(texts(result.get("forced"))).containsExactly(DB);
    assertThat(result.get("alreadyAligned")).isEmpty();
    assertThat(result.get("skipped")).isEmpty();
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.read("a", DB)).isEqualTo("b2\n"));
    pair.awaitStatusOnBoth(DB, "aligned");
    assertThat(pair.fileState("b", DB).get("local").get("cause").asText()).isEqualTo("FORCED");
    // the others are untouched, still split-brain
    assertThat(pair.read("a", APP)).isEqualTo("a1\n");
    assertThat(pair.read("b", APP)).isEqualTo("b1\n");
    assertThat(pair.read("a", CACHE)).isEqualTo("a3\n");
    assertThat(pair.read("b", CACHE)).isEqualTo("b3\n");
    pair.awaitStatusOnBoth(APP, "split-brain");
    pair.awaitStatusOnBoth(CACHE, "split-brain");
  }

  @Test
  void forceAll_alignsEveryFileOfThePeerToThisNode() {
    threeMisalignedFiles();
    // one file aligned already, by b's content, named by its path on b
    HttpResponse<String> one = pair.post("b", "force?path=" + pair.file("b", DB));
    assertThat(one.statusCode()).as(one.body()).isEqualTo(200);
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.read("a", DB)).isEqualTo("b2\n"));
    pair.awaitStatusOnBoth(DB, "aligned");

    HttpResponse<String> response = pair.post("a", "force");

    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    JsonNode result = EntangledPair.json(response.body());
    assertThat(texts(result.get("forced"))).containsExactly(APP, CACHE);
    assertThat(texts(result.get("alreadyAligned"))).containsExactly(DB);
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> {
      assertThat(pair.read("b", APP)).isEqualTo("a1\n");
      assertThat(pair.read("b", CACHE)).isEqualTo("a3\n");
    });
    assertThat(pair.read("b", DB)).isEqualTo("b2\n");
    assertThat(pair.read("a", DB)).isEqualTo("b2\n");
    for (String name : List.of(APP, DB, CACHE)) {
      pair.awaitStatusOnBoth(name, "aligned");
    }
  }

  /** A body's path scopes the force like ?path= does; a body that is not what the API takes is refused, forcing nothing. */
  @Test
  void forceWithABody_scopesByItsPath_andRefusesMalformedOrUnknownFields() {
    threeMisalignedFiles();

    HttpResponse<String> malformed = pair.post("b", "force", "{\"path\": ");
    assertThat(malformed.statusCode()).as(malformed.body()).isEqualTo(400);
    assertThat(EntangledPair.json(malformed.body()).get("error").asText()).startsWith("the body is not JSON");
    HttpResponse<String> unknownField = pair.post("b", "force", "{\"file\": \"" + DB + "\"}");
    assertThat(unknownField.statusCode()).isEqualTo(400);
    assertThat(EntangledPair.json(unknownField.body()).get("error").asText())
        .isEqualTo("unknown field 'file' in the body (expected only 'path', a listed file)");
    HttpResponse<String> notAString = pair.post("b", "force", "{\"path\": 3}");
    assertThat(notAString.statusCode()).isEqualTo(400);
    HttpResponse<String> both = pair.post("b", "force?path=" + APP, "{\"path\": \"" + DB + "\"}");
    assertThat(both.statusCode()).isEqualTo(400);
    assertThat(EntangledPair.json(both.body()).get("error").asText()).contains("?path=").contains("body");
    // nothing was forced by the refused ones
    pair.awaitStatusOnBoth(APP, "split-brain");
    pair.awaitStatusOnBoth(CACHE, "split-brain");
    pair.awaitStatusOnBoth(DB, "split-brain");

    HttpResponse<String> response = pair.post("b", "force", "{\"path\": \"" + DB + "\"}");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    assertThat(texts(EntangledPair.json(response.body()).get("forced"))).containsExactly(DB);
    pair.awaitStatusOnBoth(DB, "aligned");
    assertThat(pair.read("a", APP)).isEqualTo("a1\n");
    assertThat(pair.read("a", CACHE)).isEqualTo("a3\n");
    pair.awaitStatusOnBoth(APP, "split-brain");
  }

  @Test
  void badRequests_areAnsweredWithTheReason_andTheNodeCarriesOn() {
    pair = new EntangledPair(temp, APP);
    pair.write("a", APP, "a\n");
    pair.write("b", APP, "b\n");
    pair.start();

    HttpResponse<String> unknown = pair.post("a", "force?path=/etc/nope.conf");
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(EntangledPair.json(unknown.body()).get("error").asText())
        .isEqualTo("'/etc/nope.conf' is not a file node 'a' keeps aligned; its files: [/etc/app.conf]");

    HttpResponse<String> wrongParameter = pair.post("a", "force?file=" + APP);
    assertThat(wrongParameter.statusCode()).isEqualTo(400);
    assertThat(EntangledPair.json(wrongParameter.body()).get("error").asText()).contains("unknown parameter 'file'");

    HttpResponse<String> wrongMethod = pair.get("a", "force");
    assertThat(wrongMethod.statusCode()).isEqualTo(405);
    assertThat(EntangledPair.json(wrongMethod.body()).get("error").asText()).isEqualTo("GET /api/1/force: expected POST");

    HttpResponse<String> nowhere = pair.get("a", "nowhere");
    assertThat(nowhere.statusCode()).isEqualTo(404);
    assertThat(EntangledPair.json(nowhere.body()).get("error").asText()).startsWith("no such resource: /api/1/nowhere");

    pair.stop("b");
    await().atMost(EntangledPair.WAIT).until(() -> !pair.state("a").get("peerConnected").asBoolean());
    HttpResponse<String> alone = pair.post("a", "force");
    assertThat(alone.statusCode()).isEqualTo(409);
    assertThat(EntangledPair.json(alone.body()).get("error").asText())
        .isEqualTo("node 'a' cannot force alignment: its peer is not connected (forcing needs both nodes in reach)");
    assertThat(pair.read("a", APP)).isEqualTo("a\n");
    assertThat(pair.state("a").get("files").get(0).get("status").asText()).isEqualTo("split-brain");
  }

  @Test
  void theOpenApiDescriptionAndTheSwaggerUiPage_areServed() {
    pair = new EntangledPair(temp, APP);
    pair.write("a", APP, "a\n");
    pair.write("b", APP, "a\n");
    pair.start();

    HttpResponse<String> openApi = pair.get("a", "openapi.json");
    assertThat(openApi.statusCode()).isEqualTo(200);
    assertThat(openApi.headers().firstValue("Content-Type")).hasValue("application/json");
    JsonNode description = EntangledPair.json(openApi.body());
    assertThat(description.get("openapi").asText()).startsWith("3.");
    assertThat(description.get("paths").get("/api/1/state").has("get")).isTrue();
    assertThat(description.get("paths").get("/api/1/force").get("post").get("parameters").get(0).get("name").asText())
        .isEqualTo("path");
    assertThat(description.get("components").get("schemas").get("FileState").get("properties").get("status")
        .get("enum")).extracting(JsonNode::asText).containsExactly("aligned", "misaligned", "split-brain", "unreadable");

    HttpResponse<String> yaml = pair.get("a", "openapi.yaml");
    assertThat(yaml.statusCode()).isEqualTo(200);
    assertThat(yaml.headers().firstValue("Content-Type")).hasValue("application/yaml");
    assertThat(EntangledPair.json(yaml.body())).isEqualTo(description);

    HttpResponse<String> page = pair.get("a", "docs");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertThat(page.body()).contains("SwaggerUIBundle", "/api/1/openapi.json", "/api/1/docs/swagger-ui-bundle.js");

    HttpResponse<String> bundle = pair.get("a", "docs/swagger-ui-bundle.js");
    assertThat(bundle.statusCode()).isEqualTo(200);
    assertThat(bundle.headers().firstValue("Content-Type")).hasValue("text/javascript; charset=utf-8");
    assertThat(bundle.body()).contains("SwaggerUIBundle").hasSizeGreaterThan(100_000);
    HttpResponse<String> css = pair.get("a", "docs/swagger-ui.css");
    assertThat(css.statusCode()).isEqualTo(200);
    assertThat(css.body()).contains(".swagger-ui");

    // the page serves the webjar's files by name only
    assertThat(pair.get("a", "docs/..%2F..%2Fmaven%2Forg.webjars%2Fswagger-ui%2Fpom.properties").statusCode()).isEqualTo(404);
    assertThat(pair.get("a", "docs/nothing.js").statusCode()).isEqualTo(404);
  }

  @Test
  void aDirectoryInTheList_isRefusedAtStart_withAMessageNamingIt() throws Exception {
    Path root = Files.createDirectories(temp.resolve("root"));
    Path directory = Files.createDirectories(root.resolve("etc/conf.d"));
    Path data = temp.resolve("data");
    String[] args = {"--node", "a", "--listen", "127.0.0.1:0", "--http-port", "0", "--data-dir", data.toString(),
        "--root", root.toString(), "--file", root.resolve("etc/app.conf").toString(), "--file", directory.toString(),
        "--plaintext"};

    assertThatThrownBy(() -> EntangledNode.start(EntangledMain.parse(args)))
        .isInstanceOf(EntangledConfigException.class)
        .hasMessage("--file " + directory + ": is a directory; entangled keeps single files aligned, never"
            + " directories (list the files inside it one by one)");
    assertThat(data).as("nothing was started").doesNotExist();

    // the command says the same and exits 2
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = EntangledMain.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(status).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("entangled: --file " + directory + ": is a directory");
    assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
  }

  @Test
  void otherBadStarts_areRefusedWithTheOptionAndWhatIsExpected() throws Exception {
    Path root = Files.createDirectories(temp.resolve("root"));
    Path data = temp.resolve("data");
    List<String> common = List.of("--node", "a", "--http-port", "0", "--data-dir", data.toString(), "--root", root.toString(),
        "--plaintext");

    assertThatThrownBy(() -> start(common, "--listen", "127.0.0.1:0", "--file", "/elsewhere/app.conf"))
        .hasMessage("--file /elsewhere/app.conf: is not under --root " + root
            + " (the files' names in the cluster are their paths under the root)");
    assertThatThrownBy(() -> start(common, "--listen", "127.0.0.1:0", "--file", root.resolve("no/such/dir/app.conf").toString()))
        .hasMessageContaining("its directory " + root.resolve("no/such/dir") + " does not exist");
    assertThatThrownBy(() -> start(common, "--file", root.resolve("app.conf").toString()))
        .hasMessageStartingWith("--listen and --peer: give at least one");
    assertThatThrownBy(() -> start(common, "--listen", "127.0.0.1:0", "--file", root.resolve("app.conf").toString(),
        "--file", root.resolve("./app.conf").toString()))
        .hasMessage("--file " + root.resolve("./app.conf") + ": listed twice (as /app.conf)");
    assertThat(data).doesNotExist();
  }

  @Test
  void aBadPluginSetting_isRefusedByTheCommand_withThePluginsMessage() throws Exception {
    Path root = Files.createDirectories(temp.resolve("root"));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = EntangledMain.run(new String[] {"--node", "bad name!", "--listen", "127.0.0.1:0", "--http-port", "0",
        "--data-dir", temp.resolve("data").toString(), "--root", root.toString(), "--file", root.resolve("app.conf").toString(),
        "--plaintext"},
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(status).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .startsWith("entangled: Setting entanglement.node.name has the invalid value 'bad name!'");
  }

  private static void start(List<String> common, String... more) {
    List<String> args = new ArrayList<>(common);
    args.addAll(List.of(more));
    EntangledNode.start(EntangledMain.parse(args.toArray(String[]::new))).close();
  }

  @Test
  void theOtherNodesFileVersions_cannotBeChangedFromHere_thePolicyRefusesIt() throws Exception {
    pair = new EntangledPair(temp, APP);
    pair.write("a", APP, "a\n");
    pair.write("b", APP, "a\n");
    pair.start();
    pair.awaitStatusOnBoth(APP, "aligned");

    var request = pair.node("b").entanglement()
        .update(FileVersion.class, FileVersion.id("a", APP), version -> version.setFile(new byte[] {1}, "x", null));

    assertThatThrownBy(() -> request.get(30, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause().isInstanceOf(UpdateRequestException.Refused.class)
        .hasMessageContaining("file versions are written only by the node that holds the file");
    assertThat(pair.read("a", APP)).isEqualTo("a\n");
    JsonNode onA = pair.fileState("a", APP);
    assertThat(onA.get("status").asText()).isEqualTo("aligned");
    assertThat(onA.get("local").get("generation").asLong()).isEqualTo(1);
    assertThat(onA.get("local").get("md5").asText()).isEqualTo(FileReplicator.md5("a\n".getBytes(StandardCharsets.UTF_8)));
  }

  private static List<String> texts(JsonNode array) {
    List<String> texts = new ArrayList<>();
    array.forEach(node -> texts.add(node.asText()));
    return texts;
  }
}
