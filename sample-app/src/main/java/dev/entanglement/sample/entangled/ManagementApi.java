package dev.entanglement.sample.entangled;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The management HTTP API of one node, on the JDK's HTTP server:
 * <ul>
 *   <li>{@code GET /api/1/state}: every file's status, with both nodes' versions;</li>
 *   <li>{@code POST /api/1/force[?path=NAME]}: align the peer to this node (all files, or one);</li>
 *   <li>{@code GET /api/1/openapi.json} (also as {@code openapi.yaml}: JSON is YAML): the OpenAPI
 *       description;</li>
 *   <li>{@code GET /api/1/docs}: a Swagger UI page (from the {@code org.webjars:swagger-ui} jar).</li>
 * </ul>
 * Errors are JSON {@code {"error": "..."}} with a sentence saying what was wrong and what is
 * expected. Threads: the server's two handler threads; the work itself runs on the
 * replicator's sync thread ({@link FileReplicator#call}).
 */
final class ManagementApi implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ManagementApi.class);
  static final String BASE = "/api/1/";
  private static final String OPENAPI = "dev/entanglement/sample/entangled/openapi.json";
  private static final String DOCS_PAGE = "dev/entanglement/sample/entangled/docs.html";
  private static final String SWAGGER_UI_POM = "META-INF/maven/org.webjars/swagger-ui/pom.properties";
  private static final Pattern ASSET = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
  private static final Map<String, String> CONTENT_TYPES = Map.of(
      "js", "text/javascript; charset=utf-8",
      "css", "text/css; charset=utf-8",
      "html", "text/html; charset=utf-8",
      "png", "image/png",
      "json", "application/json",
      "map", "application/json");

  private final FileReplicator replicator;
  private final HttpServer server;
  private final ExecutorService threads;
  private final ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private final String swaggerUiVersion;

  private ManagementApi(FileReplicator replicator, HttpServer server, ExecutorService threads) {
    this.replicator = replicator;
    this.server = server;
    this.threads = threads;
    this.swaggerUiVersion = swaggerUiVersion();
  }

  /** Starts serving on {@code host:port} (port 0: any free port). */
  static ManagementApi start(String nodeName, String host, int port, FileReplicator replicator) {
    HttpServer server;
    try {
      server = HttpServer.create(new InetSocketAddress(host, port), 0);
    } catch (IOException e) {
      throw new EntangledConfigException("--http-host " + host + " --http-port " + port
          + ": cannot listen there (" + e.getMessage() + "); choose a free port, or 0 for any", e);
    }
    ExecutorService threads = Executors.newFixedThreadPool(2, runnable -> {
      Thread thread = new Thread(runnable, "entangled-http-" + nodeName);
      thread.setDaemon(true);
      return thread;
    });
    ManagementApi api = new ManagementApi(replicator, server, threads);
    server.createContext("/", api::handle);
    server.setExecutor(threads);
    server.start();
    return api;
  }

  /** The port actually listened on. */
  int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }

  private void handle(HttpExchange exchange) {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      String method = exchange.getRequestMethod();
      try {
        switch (path) {
          case BASE + "state" -> {
            requireMethod(method, "GET", path);
            sendJson(exchange, 200, replicator.call(replicator::state));
          }
          case BASE + "force" -> {
            requireMethod(method, "POST", path);
            String fromQuery = query(exchange).get("path");
            String fromBody = bodyPath(exchange);
            if (fromQuery != null && fromBody != null) {
              throw new ApiException(400, "the file is named twice, by ?path= and by the body's 'path'; give one");
            }
            String file = fromQuery != null ? fromQuery : fromBody;
            sendJson(exchange, 200, replicator.call(() -> replicator.force(file)));
          }
          case BASE + "openapi.json" -> {
            requireMethod(method, "GET", path);
            send(exchange, 200, "application/json", resource(OPENAPI));
          }
          case BASE + "openapi.yaml" -> {
            // the same document: JSON is valid YAML 1.2, so tools that ask for YAML read it too
            requireMethod(method, "GET", path);
            send(exchange, 200, "application/yaml", resource(OPENAPI));
          }
          case BASE + "docs", BASE + "docs/" -> {
            requireMethod(method, "GET", path);
            String page = new String(resource(DOCS_PAGE), StandardCharsets.UTF_8);
            send(exchange, 200, CONTENT_TYPES.get("html"), page.getBytes(StandardCharsets.UTF_8));
          }
          default -> {
            if (path.startsWith(BASE + "docs/")) {
              requireMethod(method, "GET", path);
              sendAsset(exchange, path.substring((BASE + "docs/").length()));
            } else {
              throw new ApiException(404, "no such resource: " + path + " (the API is " + BASE + "state, "
                  + BASE + "force, " + BASE + "openapi.json or .yaml, and " + BASE + "docs)");
            }
          }
        }
      } catch (ApiException e) {
        sendJson(exchange, e.status(), Map.of("error", e.getMessage()));
      } catch (RuntimeException e) {
        LOG.errorf(e, "%s %s failed", method, path);
        sendJson(exchange, 500, Map.of("error", "internal error: " + e));
      }
    } catch (IOException e) {
      LOG.debugf(e, "could not answer an HTTP request");
    }
  }

  /** A file of the Swagger UI webjar, by name; names only, no paths. */
  private void sendAsset(HttpExchange exchange, String name) throws IOException {
    if (swaggerUiVersion == null || !ASSET.matcher(name).matches()) {
      throw new ApiException(404, "no such file of the API page: " + name);
    }
    String resource = "META-INF/resources/webjars/swagger-ui/" + swaggerUiVersion + "/" + name;
    try (InputStream in = ManagementApi.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new ApiException(404, "no such file of the API page: " + name);
      }
      String extension = name.substring(name.lastIndexOf('.') + 1);
      send(exchange, 200, CONTENT_TYPES.getOrDefault(extension, "application/octet-stream"), in.readAllBytes());
    }
  }

  private static void requireMethod(String method, String expected, String path) {
    if (!method.equals(expected)) {
      throw new ApiException(405, method + " " + path + ": expected " + expected);
    }
  }

  /** Most bytes of a request body: a path and its JSON around it. */
  private static final int MAX_BODY = 4096;

  /**
   * The body of {@code POST force}: none (or blank), or a JSON object with only {@code path}, a
   * non-empty string; anything else is a 400 naming what is wrong, before anything is forced.
   */
  private String bodyPath(HttpExchange exchange) throws IOException {
    byte[] bytes = exchange.getRequestBody().readNBytes(MAX_BODY + 1);
    if (bytes.length > MAX_BODY) {
      throw new ApiException(413, "the body is over " + MAX_BODY + " bytes (expected {\"path\": \"/a/listed/file\"} or none)");
    }
    String text = new String(bytes, StandardCharsets.UTF_8);
    if (text.isBlank()) {
      return null;
    }
    com.fasterxml.jackson.databind.JsonNode body;
    try {
      body = json.readTree(text);
    } catch (com.fasterxml.jackson.core.JacksonException e) {
      throw new ApiException(400, "the body is not JSON (" + e.getOriginalMessage() + "); expected {\"path\": "
          + "\"/a/listed/file\"} or no body");
    }
    if (body == null || !body.isObject()) {
      throw new ApiException(400, "the body is not a JSON object; expected {\"path\": \"/a/listed/file\"} or no body");
    }
    for (var names = body.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!name.equals("path")) {
        throw new ApiException(400, "unknown field '" + name + "' in the body (expected only 'path', a listed file)");
      }
    }
    com.fasterxml.jackson.databind.JsonNode path = body.get("path");
    if (path == null) {
      return null;
    }
    if (!path.isTextual() || path.asText().isEmpty()) {
      throw new ApiException(400, "the body's 'path' is " + path + "; expected a non-empty string naming a listed file");
    }
    return path.asText();
  }

  private static Map<String, String> query(HttpExchange exchange) {
    Map<String, String> parameters = new LinkedHashMap<>();
    String raw = exchange.getRequestURI().getRawQuery();
    if (raw == null || raw.isEmpty()) {
      return parameters;
    }
    for (String pair : raw.split("&")) {
      int equals = pair.indexOf('=');
      String key = URLDecoder.decode(equals < 0 ? pair : pair.substring(0, equals), StandardCharsets.UTF_8);
      String value = equals < 0 ? "" : URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8);
      if (!key.equals("path")) {
        throw new ApiException(400, "unknown parameter '" + key + "' (expected only 'path', a listed file)");
      }
      if (value.isEmpty()) {
        throw new ApiException(400, "parameter 'path' is empty (expected a listed file, e.g. path=/etc/app.conf;"
            + " leave the parameter out to force every file)");
      }
      parameters.put(key, value);
    }
    return parameters;
  }

  private void sendJson(HttpExchange exchange, int status, Object body) throws IOException {
    send(exchange, status, "application/json", json.writeValueAsBytes(body));
  }

  private static void send(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    if (body.length > 0) {
      exchange.getResponseBody().write(body);
    }
  }

  private static byte[] resource(String name) {
    try (InputStream in = ManagementApi.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException(name + " is missing from the classpath");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The version of the Swagger UI webjar on the classpath, or null (then the page has no assets). */
  private static String swaggerUiVersion() {
    try (InputStream in = ManagementApi.class.getClassLoader().getResourceAsStream(SWAGGER_UI_POM)) {
      if (in == null) {
        LOG.warn("org.webjars:swagger-ui is not on the classpath: " + BASE + "docs has no API page");
        return null;
      }
      Properties properties = new Properties();
      properties.load(in);
      return properties.getProperty("version");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
