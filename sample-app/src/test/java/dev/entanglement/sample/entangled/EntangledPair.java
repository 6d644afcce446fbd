package dev.entanglement.sample.entangled;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.entanglement.hibernate.testing.FaultyProxy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Two entangled nodes, {@code a} and {@code b}, in this JVM: each with its own root directory of
 * files and its own H2 file database under a temporary directory, real gRPC over loopback TCP
 * (node {@code a} listens, {@code b} dials it, directly or through a {@link FaultyProxy}), and
 * their management APIs on free ports, called over HTTP.
 *
 * <p>Files are named as in the cluster ({@code /etc/app.conf}); {@link #file} says where each
 * node keeps one. Used from the test thread only.
 */
final class EntangledPair implements AutoCloseable {
  static final Duration WAIT = Duration.ofSeconds(30);
  static final ObjectMapper JSON = new ObjectMapper();

  private final Path base;
  private final List<String> names;
  private final HttpClient http = HttpClient.newHttpClient();
  private final Map<String, EntangledNode> nodes = new LinkedHashMap<>();
  private final Map<String, List<String>> extraArgs = new LinkedHashMap<>();
  private FaultyProxy proxy;
  private String addressOfA;
  private long scanIntervalMs = 1000;

  EntangledPair(Path base, String... names) {
    this.base = base;
    this.names = List.of(names);
    for (String node : List.of("a", "b")) {
      for (String name : names) {
        try {
          Files.createDirectories(file(node, name).getParent());
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
    }
  }

  /** How often the nodes scan their files (the watch service's safety net); before starting. */
  EntangledPair scanIntervalMs(long millis) {
    this.scanIntervalMs = millis;
    return this;
  }

  /** Further command-line options of one node, given when it starts. */
  EntangledPair extraArgs(String node, String... args) {
    extraArgs.put(node, List.of(args));
    return this;
  }

  Path root(String node) {
    return base.resolve(node).resolve("root");
  }

  Path dataDir(String node) {
    return base.resolve(node).resolve("data");
  }

  Path file(String node, String name) {
    return root(node).resolve(name.substring(1));
  }

  void write(String node, String name, String content) {
    write(node, name, content.getBytes(StandardCharsets.UTF_8));
  }

  void write(String node, String name, byte[] content) {
    try {
      Files.write(file(node, name), content);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String read(String node, String name) {
    return new String(readBytes(node, name), StandardCharsets.UTF_8);
  }

  byte[] readBytes(String node, String name) {
    try {
      return Files.readAllBytes(file(node, name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The command line of a node; {@code peer} is the address it dials, or null to listen. */
  List<String> args(String node, String peer) {
    List<String> args = new ArrayList<>(List.of(
        "--node", node,
        "--http-port", "0",
        "--data-dir", dataDir(node).toString(),
        "--root", root(node).toString(),
        "--scan-interval-ms", Long.toString(scanIntervalMs),
        // loopback: redial quickly once a partition heals
        "--setting", "entanglement.reconnect.initial_delay_ms=50",
        "--setting", "entanglement.reconnect.max_delay_ms=300"));
    if (peer == null) {
      args.addAll(List.of("--listen", "127.0.0.1:0"));
    } else {
      args.addAll(List.of("--peer", peer));
    }
    for (String name : names) {
      args.addAll(List.of("--file", file(node, name).toString()));
    }
    List<String> extra = extraArgs.getOrDefault(node, List.of());
    if (!extra.contains("--tls-cert")) {
      args.add("--plaintext"); // loopback
    }
    args.addAll(extra);
    return args;
  }

  /** Starts {@code a} listening and {@code b} dialing it directly; waits until they are connected. */
  EntangledPair start() {
    startA();
    startB(addressOfA);
    awaitConnected();
    return this;
  }

  /** Starts {@code a} listening and {@code b} dialing it through a proxy that can cut the link. */
  EntangledPair startThroughProxy() {
    startA();
    int port = Integer.parseInt(addressOfA.substring(addressOfA.lastIndexOf(':') + 1));
    proxy = FaultyProxy.start("127.0.0.1", port);
    startB(proxy.address());
    awaitConnected();
    return this;
  }

  EntangledNode startA() {
    EntangledNode a = EntangledNode.start(EntangledMain.parse(args("a", null).toArray(String[]::new)));
    nodes.put("a", a);
    addressOfA = a.entanglement().listenAddress().orElseThrow();
    return a;
  }

  /** Starts {@code b} dialing {@code address} (again after {@link #stop}: the address it had). */
  EntangledNode startB(String address) {
    EntangledNode b = EntangledNode.start(EntangledMain.parse(args("b", address).toArray(String[]::new)));
    nodes.put("b", b);
    return b;
  }

  /** The address {@code b} dials: the proxy's if there is one, else {@code a}'s. */
  String addressForB() {
    return proxy != null ? proxy.address() : addressOfA;
  }

  void stop(String node) {
    EntangledNode stopped = nodes.remove(node);
    stopped.close();
  }

  EntangledNode node(String node) {
    return nodes.get(node);
  }

  FaultyProxy proxy() {
    return proxy;
  }

  void awaitConnected() {
    await().atMost(WAIT).untilAsserted(() -> {
      assertThat(state("a").get("peerConnected").asBoolean()).as("a connected").isTrue();
      assertThat(state("b").get("peerConnected").asBoolean()).as("b connected").isTrue();
    });
  }

  void awaitDisconnected() {
    await().atMost(WAIT).untilAsserted(() -> {
      assertThat(state("a").get("peerConnected").asBoolean()).as("a connected").isFalse();
      assertThat(state("b").get("peerConnected").asBoolean()).as("b connected").isFalse();
    });
  }

  /** Waits until a file has this status on both nodes, with the peer's version received. */
  void awaitStatusOnBoth(String name, String status) {
    await().atMost(WAIT).untilAsserted(() -> {
      for (String node : nodes.keySet()) {
        JsonNode file = fileState(node, name);
        assertThat(file.get("remote").isNull()).as("%s has received the peer's version of %s", node, name).isFalse();
        assertThat(file.get("status").asText()).as("status of %s on %s: %s", name, node, file).isEqualTo(status);
      }
    });
  }

  JsonNode state(String node) {
    HttpResponse<String> response = get(node, "state");
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return json(response.body());
  }

  JsonNode fileState(String node, String name) {
    for (JsonNode file : state(node).get("files")) {
      if (file.get("path").asText().equals(name)) {
        return file;
      }
    }
    throw new AssertionError(node + " does not report " + name);
  }

  HttpResponse<String> get(String node, String resource) {
    return send(HttpRequest.newBuilder(uri(node, resource)).GET().build());
  }

  HttpResponse<String> post(String node, String resource) {
    return send(HttpRequest.newBuilder(uri(node, resource)).POST(HttpRequest.BodyPublishers.noBody()).build());
  }

  HttpResponse<String> post(String node, String resource, String jsonBody) {
    return send(HttpRequest.newBuilder(uri(node, resource)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(jsonBody)).build());
  }

  URI uri(String node, String resource) {
    return URI.create(nodes.get(node).apiUrl() + resource);
  }

  HttpResponse<String> send(HttpRequest request) {
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static JsonNode json(String body) {
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Files in a node's directory of {@code name} other than the listed ones (temporary files left over). */
  List<String> strayFiles(String node, String name) {
    try (Stream<Path> listing = Files.list(file(node, name).getParent())) {
      return listing.filter(path -> names.stream().noneMatch(n -> file(node, n).equals(path)))
          .map(path -> path.getFileName().toString())
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    for (EntangledNode node : List.copyOf(nodes.values())) {
      node.close();
    }
    nodes.clear();
    if (proxy != null) {
      proxy.close();
    }
  }
}
