package dev.entanglement.hibernate.testing;

import static dev.entanglement.hibernate.testing.FaultyProxy.Direction.CLIENT_TO_SERVER;
import static dev.entanglement.hibernate.testing.FaultyProxy.Direction.SERVER_TO_CLIENT;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class FaultyProxyTest {
  private EchoServer echo;
  private FaultyProxy proxy;

  @BeforeEach
  void start() throws IOException {
    echo = new EchoServer();
    proxy = FaultyProxy.start("127.0.0.1", echo.port());
  }

  @AfterEach
  void stop() {
    proxy.close();
    echo.close();
  }

  @Test
  void forwardsBytesBothWaysAndCountsThem() throws IOException {
    try (Socket socket = connect(proxy)) {
      assertEchoes(socket, "hello");
      await().untilAsserted(() -> {
        assertThat(proxy.bytesForwarded(CLIENT_TO_SERVER)).isEqualTo(5);
        assertThat(proxy.bytesForwarded(SERVER_TO_CLIENT)).isEqualTo(5);
      });
      assertThat(proxy.connectionsAccepted()).isEqualTo(1);
      assertThat(proxy.openConnections()).isEqualTo(1);
      assertThat(proxy.address()).isEqualTo("127.0.0.1:" + proxy.port());
    }
  }

  @Test
  void forwardsALargeStreamIntactAndInOrder() throws IOException {
    byte[] payload = new byte[2 * 1024 * 1024];
    new Random(42).nextBytes(payload);
    try (Socket socket = connect(proxy)) {
      CompletableFuture<Void> sending = sendAsync(socket, payload);
      assertThat(readFully(socket, payload.length)).isEqualTo(payload);
      sending.join();
    }
    await().untilAsserted(() -> assertThat(proxy.bytesForwarded()).isEqualTo(2L * payload.length));
  }

  @Test
  void halfCloseIsPassedOn() throws IOException {
    try (Socket socket = connect(proxy)) {
      send(socket, "bye");
      socket.shutdownOutput();
      assertThat(new String(readFully(socket, 3), US_ASCII)).isEqualTo("bye");
      // the echo server closes when it sees our end of stream, and that comes back to us
      assertThat(socket.getInputStream().read()).isEqualTo(-1);
    }
    await().until(() -> proxy.openConnections() == 0);
  }

  @Test
  void cut_resetsOpenConnections_andRefusesNewOnesUntilHeal() throws IOException {
    try (Socket open = connect(proxy)) {
      assertEchoes(open, "a");
      proxy.cut();
      assertClosed(open);
      await().until(() -> echo.connectionsEnded.get() == 1); // the target side was closed too

      try (Socket refused = connect(proxy)) {
        assertClosed(refused);
      }
      assertThat(proxy.connectionsAccepted()).isEqualTo(2);
      assertThat(echo.connectionsAccepted.get()).isEqualTo(1); // refused ones never reach it

      proxy.heal();
      try (Socket again = connect(proxy)) {
        assertEchoes(again, "b");
      }
    }
  }

  @Test
  void blackhole_dropsBytesWithoutClosing_andHealResetsOnlyTheConnectionsThatLostBytes()
      throws IOException {
    try (Socket busy = connect(proxy); Socket idle = connect(proxy)) {
      assertEchoes(busy, "a");
      assertEchoes(idle, "b");
      long received = echo.bytesReceived.get();

      proxy.blackhole();
      send(busy, "lost");
      await().until(() -> proxy.bytesDropped(CLIENT_TO_SERVER) == 4);
      assertSilent(busy, Duration.ofMillis(400)); // no echo, and no end of stream either
      assertThat(echo.bytesReceived.get()).isEqualTo(received);
      assertThat(echo.connectionsEnded.get()).isZero();

      try (Socket during = connect(proxy)) {
        send(during, "x");
        assertSilent(during, Duration.ofMillis(200));
        await().until(() -> proxy.bytesDropped(CLIENT_TO_SERVER) == 5);

        proxy.heal();
        assertClosed(during);
      }
      assertClosed(busy); // resuming it would have delivered a stream with a hole in it
      assertEchoes(idle, "c"); // lost nothing, so it carries on
      try (Socket after = connect(proxy)) {
        assertEchoes(after, "d");
      }
      assertThat(proxy.bytesDropped(SERVER_TO_CLIENT)).isZero();
    }
  }

  @Test
  void delay_addsAtLeastTheLatencyEachWay_withoutLimitingThroughput() throws IOException {
    Duration oneWay = Duration.ofMillis(250);
    proxy.delay(oneWay);
    try (Socket socket = connect(proxy)) {
      long start = System.nanoTime();
      assertEchoes(socket, "ping");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(oneWay.multipliedBy(2));

      // ten writes in a row come back after about one round trip: a proxy that slept per chunk
      // in its forwarding thread would need at least ten
      start = System.nanoTime();
      for (int i = 0; i < 10; i++) {
        send(socket, "m" + i);
      }
      assertThat(new String(readFully(socket, 20), US_ASCII)).isEqualTo("m0m1m2m3m4m5m6m7m8m9");
      Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
      assertThat(elapsed).isGreaterThanOrEqualTo(oneWay.multipliedBy(2))
          .isLessThan(oneWay.multipliedBy(2 * 10 - 4)); // generous: only a per-chunk sleep fails it
    }
  }

  @Test
  void heal_releasesChunksWaitingForTheirDelay() throws IOException {
    proxy.delay(Duration.ofMinutes(1));
    try (Socket socket = connect(proxy)) {
      send(socket, "late");
      await().until(() -> proxy.connectionsAccepted() == 1);
      proxy.heal();
      assertThat(new String(readFully(socket, 4), US_ASCII)).isEqualTo("late");
    }
  }

  @Test
  void throttle_keepsEachDirectionWithinTheRate() throws IOException {
    int rate = 32 * 1024;
    byte[] payload = new byte[64 * 1024];
    new Random(7).nextBytes(payload);
    proxy.throttle(rate);
    try (Socket socket = connect(proxy)) {
      long start = System.nanoTime();
      CompletableFuture<Void> sending = sendAsync(socket, payload);
      assertThat(readFully(socket, payload.length)).isEqualTo(payload);
      sending.join();
      // 64 KB at 32 KB/s, less one burst of a tenth of a second
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(1500));
      await().untilAsserted(() -> {
        assertThat(proxy.bytesForwarded(CLIENT_TO_SERVER)).isEqualTo(payload.length);
        assertThat(proxy.bytesForwarded(SERVER_TO_CLIENT)).isEqualTo(payload.length);
      });

      // unthrottled, 1 MB comes back within the read timeout; at 32 KB/s it would take 32 s
      proxy.throttle(0);
      byte[] big = new byte[1024 * 1024];
      CompletableFuture<Void> sendingBig = sendAsync(socket, big);
      assertThat(readFully(socket, big.length)).isEqualTo(big);
      sendingBig.join();
    }
  }

  @Test
  void targetDown_resetsTheClient() throws IOException {
    int deadPort;
    try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      deadPort = gone.getLocalPort();
    }
    try (FaultyProxy toNowhere = FaultyProxy.start("127.0.0.1", deadPort);
        Socket socket = connect(toNowhere)) {
      assertClosed(socket);
      assertThat(toNowhere.connectionsAccepted()).isEqualTo(1);
    }
  }

  @Test
  void close_closesConnectionsAndStopsItsThreads() throws IOException {
    FaultyProxy closing = FaultyProxy.start("127.0.0.1", echo.port());
    try (Socket a = connect(closing); Socket b = connect(closing)) {
      assertEchoes(a, "a");
      assertEchoes(b, "b");
      List<Thread> running = threadsOf(closing);
      assertThat(running).hasSize(1 + 2 * 4).allMatch(Thread::isDaemon);

      closing.close();

      assertThat(threadsOf(closing)).isEmpty();
      assertThat(running).noneMatch(Thread::isAlive);
      assertClosed(a);
      assertClosed(b);
      assertThatThrownBy(() -> new Socket("127.0.0.1", closing.port()).close())
          .isInstanceOf(ConnectException.class);
      closing.close(); // idempotent
    }
  }

  private static List<Thread> threadsOf(FaultyProxy proxy) {
    String prefix = "faulty-proxy-" + proxy.port() + "-";
    return Thread.getAllStackTraces().keySet().stream()
        .filter(thread -> thread.getName().startsWith(prefix) && thread.isAlive())
        .toList();
  }

  private static Socket connect(FaultyProxy proxy) throws IOException {
    Socket socket = new Socket("127.0.0.1", proxy.port());
    socket.setTcpNoDelay(true);
    socket.setSoTimeout(5_000); // bounds every read; no test should get anywhere near it
    return socket;
  }

  private static void send(Socket socket, String text) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(text.getBytes(US_ASCII));
    out.flush();
  }

  /** Writes from another thread, so the echo can be read while it is sent. */
  private static CompletableFuture<Void> sendAsync(Socket socket, byte[] bytes) {
    return CompletableFuture.runAsync(() -> {
      try {
        socket.getOutputStream().write(bytes);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  private static byte[] readFully(Socket socket, int length) throws IOException {
    byte[] bytes = new byte[length];
    new DataInputStream(socket.getInputStream()).readFully(bytes);
    return bytes;
  }

  private static void assertEchoes(Socket socket, String text) throws IOException {
    send(socket, text);
    assertThat(new String(readFully(socket, text.length()), US_ASCII)).isEqualTo(text);
  }

  /** The peer closed or reset the connection (within the socket's read timeout). */
  private static void assertClosed(Socket socket) throws IOException {
    try {
      assertThat(socket.getInputStream().read()).as("end of stream").isEqualTo(-1);
    } catch (SocketTimeoutException e) {
      fail("connection still open");
    } catch (SocketException e) {
      assertThat(e).hasMessageContaining("reset");
    }
  }

  /** Nothing arrives within the window, and the connection stays open: a silent network. */
  private static void assertSilent(Socket socket, Duration window) throws IOException {
    int timeout = socket.getSoTimeout();
    socket.setSoTimeout((int) window.toMillis());
    try {
      assertThatThrownBy(() -> socket.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
    } finally {
      socket.setSoTimeout(timeout);
    }
  }

  /** Echoes every byte back on each connection, until the client closes it. */
  private static final class EchoServer implements AutoCloseable {
    final ServerSocket server;
    final AtomicInteger connectionsAccepted = new AtomicInteger();
    final AtomicInteger connectionsEnded = new AtomicInteger();
    final AtomicLong bytesReceived = new AtomicLong();
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();

    EchoServer() throws IOException {
      server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
      daemon("echo-accept", this::acceptLoop);
    }

    int port() {
      return server.getLocalPort();
    }

    private void acceptLoop() {
      while (true) {
        Socket socket;
        try {
          socket = server.accept();
        } catch (IOException e) {
          return; // closed
        }
        connectionsAccepted.incrementAndGet();
        sockets.add(socket);
        daemon("echo-" + socket.getPort(), () -> serve(socket));
      }
    }

    private void serve(Socket socket) {
      try (socket) {
        InputStream in = socket.getInputStream();
        OutputStream out = socket.getOutputStream();
        byte[] buffer = new byte[8192];
        int n;
        while ((n = in.read(buffer)) >= 0) {
          bytesReceived.addAndGet(n);
          out.write(buffer, 0, n);
        }
      } catch (IOException e) {
        // reset: ends like a close
      } finally {
        sockets.remove(socket);
        connectionsEnded.incrementAndGet();
      }
    }

    private static void daemon(String name, Runnable body) {
      Thread thread = new Thread(body, name);
      thread.setDaemon(true);
      thread.start();
    }

    @Override
    public void close() {
      try {
        server.close();
      } catch (IOException ignored) {
        // best effort
      }
      for (Socket socket : sockets) {
        try {
          socket.close();
        } catch (IOException ignored) {
          // best effort
        }
      }
    }
  }
}
