package dev.entanglement.sample.web;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Serves the live task board: the page ({@code index.html}, {@code board.js}, {@code board.css}
 * from this package's {@code board/} resources), the browser build of the JavaScript client
 * ({@code /client/entanglement.js}, from entanglement-js's {@code dist/browser}) and {@code
 * /config.json}, which tells the page where hq's WebSocket endpoint is. Nothing else: the page
 * talks to the node only over that WebSocket.
 *
 * <p>JDK's built-in HTTP server on two threads with a queue of 64 requests; a request beyond it is
 * answered 503 by closing the exchange (a demo page, not a web server). The WebSocket address is
 * read at each request, so the page follows hq across restarts.
 */
final class BoardPage implements AutoCloseable {
  private static final String RESOURCES = "/dev/entanglement/sample/web/board/";
  private static final Map<String, String> PAGE = Map.of(
      "/", "index.html", "/index.html", "index.html", "/board.js", "board.js", "/board.css", "board.css");
  private static final Map<String, String> CLIENT = Map.of(
      "/client/entanglement.js", "entanglement.js", "/client/entanglement.js.map", "entanglement.js.map");

  private final HttpServer server;
  private final ThreadPoolExecutor executor;
  private final Path clientDir;
  private final Supplier<String> webSocketUrl;

  BoardPage(String host, int port, Path clientDir, Supplier<String> webSocketUrl) throws IOException {
    this.clientDir = clientDir;
    this.webSocketUrl = webSocketUrl;
    if (!Files.isRegularFile(clientDir.resolve("entanglement.js"))) {
      throw new IllegalArgumentException("no browser build of the JavaScript client in '" + clientDir.toAbsolutePath()
          + "' (expected entanglement.js there): build it with `mvn -B -q -DskipTests install` (or `npm run build` "
          + "in entanglement-js), or name its folder with --client DIR");
    }
    server = HttpServer.create(new InetSocketAddress(host, port), 16);
    executor = new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(64),
        (task, pool) -> { throw new java.util.concurrent.RejectedExecutionException("the board page is busy"); });
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
  }

  /** The page's address, e.g. {@code http://127.0.0.1:8080/}. */
  String url() {
    InetSocketAddress address = server.getAddress();
    return "http://" + address.getHostString() + ":" + address.getPort() + "/";
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      if (!exchange.getRequestMethod().equals("GET")) {
        send(exchange, 405, "text/plain", "only GET".getBytes(StandardCharsets.UTF_8));
      } else if (path.equals("/favicon.ico")) {
        exchange.sendResponseHeaders(204, -1);
      } else if (path.equals("/config.json")) {
        send(exchange, 200, "application/json",
            ("{\"ws\":\"" + webSocketUrl.get() + "\"}").getBytes(StandardCharsets.UTF_8));
      } else if (PAGE.containsKey(path)) {
        send(exchange, 200, contentType(PAGE.get(path)), resource(PAGE.get(path)));
      } else if (CLIENT.containsKey(path)) {
        send(exchange, 200, contentType(CLIENT.get(path)), Files.readAllBytes(clientDir.resolve(CLIENT.get(path))));
      } else {
        send(exchange, 404, "text/plain", ("no page " + path).getBytes(StandardCharsets.UTF_8));
      }
    }
  }

  private static byte[] resource(String name) throws IOException {
    try (InputStream in = BoardPage.class.getResourceAsStream(RESOURCES + name)) {
      if (in == null) {
        throw new UncheckedIOException(new IOException("resource " + RESOURCES + name + " missing"));
      }
      return in.readAllBytes();
    }
  }

  private static String contentType(String name) {
    if (name.endsWith(".html")) {
      return "text/html; charset=utf-8";
    } else if (name.endsWith(".js")) {
      return "text/javascript; charset=utf-8";
    } else if (name.endsWith(".css")) {
      return "text/css; charset=utf-8";
    }
    return "application/json";
  }

  private static void send(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
