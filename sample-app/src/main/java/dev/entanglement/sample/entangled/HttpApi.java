package dev.entanglement.sample.entangled;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The management HTTP API of one node (JDK HTTP server, Jackson for JSON):
 * {@code GET /api/1/state}, {@code POST /api/1/force[?path=]}, the OpenAPI description at
 * {@code /api/1/openapi.yaml} and a Swagger UI page at {@code /api/1/docs} (from the
 * {@code org.webjars:swagger-ui} jar). Handlers hand their work to the node's worker.
 */
final class HttpApi implements AutoCloseable {
  static final String SWAGGER_UI = "5.30.2"; // the webjar's version, as in the pom
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final HttpServer server;
  private final ExecutorService threads = Executors.newFixedThreadPool(2);

  HttpApi(EntangledNode node, int port) throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
    server.setExecutor(threads);
    server.createContext("/api/1/state", exchange -> {
      if (!method(exchange, "GET")) {
        return;
      }
      json(exchange, 200, node.state());
    });
    server.createContext("/api/1/force", exchange -> {
      if (!method(exchange, "POST")) {
        return;
      }
      String path = query(exchange).get("path");
      try {
        List<String> forced = node.force(path);
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("node", node.node());
        answer.put("forced", forced);
        json(exchange, 200, answer);
      } catch (IllegalArgumentException e) {
        json(exchange, 404, Map.of("error", e.getMessage()));
      }
    });
    server.createContext("/api/1/openapi.yaml", exchange -> resource(exchange, "entangled/openapi.yaml", "application/yaml"));
    server.createContext("/api/1/docs", exchange -> resource(exchange, "entangled/docs.html", "text/html; charset=utf-8"));
    server.createContext("/webjars/", exchange -> {
      String name = exchange.getRequestURI().getPath();
      if (name.contains("..")) {
        json(exchange, 400, Map.of("error", "bad path"));
        return;
      }
      resource(exchange, "META-INF/resources" + name,
          name.endsWith(".css") ? "text/css" : name.endsWith(".js") ? "text/javascript" : "application/octet-stream");
    });
    server.createContext("/", exchange -> json(exchange, 404, Map.of("error",
        "no such resource: " + exchange.getRequestURI().getPath() + "; see /api/1/docs")));
    server.start();
  }

  int port() {
    return server.getAddress().getPort();
  }

  private static boolean method(HttpExchange exchange, String expected) throws IOException {
    if (exchange.getRequestMethod().equals(expected)) {
      return true;
    }
    exchange.getResponseHeaders().add("Allow", expected);
    json(exchange, 405, Map.of("error", "%s %s is not supported; use %s".formatted(exchange.getRequestMethod(),
        exchange.getRequestURI().getPath(), expected)));
    return false;
  }

  private static Map<String, String> query(HttpExchange exchange) {
    Map<String, String> values = new LinkedHashMap<>();
    String raw = exchange.getRequestURI().getRawQuery();
    if (raw != null) {
      for (String pair : raw.split("&")) {
        int eq = pair.indexOf('=');
        if (eq > 0) {
          values.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
              URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
      }
    }
    return values;
  }

  private static void json(HttpExchange exchange, int status, Object body) throws IOException {
    send(exchange, status, "application/json", JSON.writeValueAsBytes(body));
  }

  private static void resource(HttpExchange exchange, String name, String type) throws IOException {
    try (InputStream in = HttpApi.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        json(exchange, 404, Map.of("error", "no such resource: " + exchange.getRequestURI().getPath()));
        return;
      }
      send(exchange, 200, type, in.readAllBytes());
    }
  }

  private static void send(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}
