package dev.entanglement.hibernate.testing;

import org.awaitility.Awaitility;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import javax.net.ssl.SSLContext;

/**
 * A browser peer for tests, over a real WebSocket (the JDK's {@link WebSocket} client, not a
 * mock): it decodes every binary frame as an {@link Envelope} and records it, answers the node's
 * ChangeBatches with Acks (APPLIED) as a browser's store would, and keeps the positions they
 * carried, as a browser keeps them for its next Hello. {@link #stopReading} withholds demand, so
 * the JDK client stops reading the socket (a tab that froze).
 */
public final class BrowserClient implements AutoCloseable {
  /** How the node ended the WebSocket. */
  public record Closed(int code, String reason) {}

  /** An HTTP answer to an upgrade that was refused. */
  public record Refusal(int status, String body) {}

  private final ConcurrentLinkedQueue<Envelope> received = new ConcurrentLinkedQueue<>();
  private final Map<String, Long> positions = new TreeMap<>();
  private final CompletableFuture<Closed> closed = new CompletableFuture<>();
  private volatile boolean reading = true;
  private volatile boolean acking = true;
  private volatile WebSocket socket;
  private CompletableFuture<WebSocket> sending = CompletableFuture.completedFuture(null);

  private BrowserClient() {}

  /** Opens a WebSocket to {@code ws://address/path?query} (the upgrade must be admitted). */
  public static BrowserClient connect(String address, String pathAndQuery) {
    return connect(URI.create("ws://" + address + pathAndQuery), HttpClient.newHttpClient());
  }

  /** Opens a WebSocket over TLS ({@code wss://}), trusting what {@code tls} trusts. */
  public static BrowserClient connectSecure(String hostAndPort, String pathAndQuery, SSLContext tls) {
    return connect(URI.create("wss://" + hostAndPort + pathAndQuery), HttpClient.newBuilder().sslContext(tls).build());
  }

  private static BrowserClient connect(URI uri, HttpClient http) {
    BrowserClient client = new BrowserClient();
    client.socket = http.newWebSocketBuilder().buildAsync(uri, client.new Listener()).orTimeout(10, TimeUnit.SECONDS).join();
    return client;
  }

  /** Sends raw bytes in one binary frame (e.g. something that is not an Envelope). */
  public synchronized void sendBytes(byte[] bytes) {
    sending = sending.thenCompose(ignored -> socket.sendBinary(ByteBuffer.wrap(bytes), true));
  }

  /** Sends a text frame. */
  public synchronized void sendText(String text) {
    sending = sending.thenCompose(ignored -> socket.sendText(text, true));
  }

  /**
   * Sends a WebSocket upgrade request over a plain socket and returns the node's HTTP answer
   * (status and body), for upgrades that are to be refused: no WebSocket is involved.
   */
  public static Refusal upgradeRefused(String address, String pathAndQuery, String... headerLines) throws IOException {
    String[] hostPort = address.split(":");
    try (Socket raw = new Socket(hostPort[0], Integer.parseInt(hostPort[1]))) {
      raw.setSoTimeout(10_000);
      StringBuilder request = new StringBuilder("GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + address + "\r\n"
          + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          + "Sec-WebSocket-Version: 13\r\n");
      for (String line : headerLines) {
        request.append(line).append("\r\n");
      }
      OutputStream out = raw.getOutputStream();
      out.write(request.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = raw.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all); // the node closes after its answer
      String text = all.toString(StandardCharsets.UTF_8);
      int status = Integer.parseInt(text.substring(9, 12));
      int bodyStart = text.indexOf("\r\n\r\n");
      return new Refusal(status, bodyStart < 0 ? "" : text.substring(bodyStart + 4));
    }
  }

  /** Sends the browser's Hello with the positions it holds (none: empty). */
  public void hello(Map<String, Long> held) {
    Hello.Builder hello = Hello.newBuilder().setProtocolVersion(1);
    held.forEach((owner, serial) -> hello.addOwners(OwnerPosition.newBuilder().setOwner(owner).setSerial(serial)));
    send(Envelope.newBuilder().setHello(hello).build());
  }

  /** Sends one envelope in one binary frame (sends are chained: the JDK client takes one at a time). */
  public synchronized void send(Envelope envelope) {
    ByteBuffer bytes = ByteBuffer.wrap(envelope.toByteArray());
    sending = sending.thenCompose(ignored -> socket.sendBinary(bytes, true));
  }

  /** Everything received so far, in order. */
  public List<Envelope> received() {
    return new ArrayList<>(received);
  }

  /** Waits for a received envelope matching {@code condition}. */
  public Envelope await(Predicate<Envelope> condition) {
    return Awaitility.await().atMost(Duration.ofSeconds(20)).until(
        () -> received.stream().filter(condition).findFirst().orElse(null), found -> found != null);
  }

  /** The positions the node's acknowledged batches carried (what a browser names in its next Hello). */
  public synchronized Map<String, Long> positions() {
    return new TreeMap<>(positions);
  }

  /** From now on, no more demand: the JDK client stops reading the socket. */
  public void stopReading() {
    reading = false;
  }

  /** From now on, batches are not answered. */
  public void stopAcking() {
    acking = false;
  }

  /** Completes when the node closes the WebSocket. */
  public CompletableFuture<Closed> closed() {
    return closed;
  }

  @Override
  public void close() {
    WebSocket open = socket;
    if (open != null && !open.isOutputClosed()) {
      open.sendClose(WebSocket.NORMAL_CLOSURE, "").orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> null).join();
    }
    if (open != null) {
      open.abort();
    }
  }

  private synchronized void acknowledge(ChangeBatch batch) {
    Ack.Builder ack = Ack.newBuilder().setRequestId(batch.getRequestId());
    for (int i = 0; i < batch.getChangesCount(); i++) {
      ack.addOutcomes(Outcome.newBuilder().setIndex(i).setStatus(OutcomeStatus.APPLIED));
    }
    for (OwnerPosition position : batch.getPositionsList()) {
      positions.merge(position.getOwner(), position.getSerial(), Math::max);
    }
    send(Envelope.newBuilder().setAck(ack).build());
  }

  private final class Listener implements WebSocket.Listener {
    private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

    @Override
    public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
      byte[] chunk = new byte[data.remaining()];
      data.get(chunk);
      partial.writeBytes(chunk);
      if (last) {
        try {
          Envelope envelope = Envelope.parseFrom(partial.toByteArray());
          received.add(envelope);
          if (envelope.hasChanges() && acking) {
            acknowledge(envelope.getChanges());
          }
        } catch (InvalidProtocolBufferException e) {
          throw new IllegalStateException("the node sent a frame that is not an Envelope", e);
        } finally {
          partial.reset();
        }
      }
      if (reading) {
        webSocket.request(1);
      }
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
      closed.complete(new Closed(statusCode, reason));
      return null;
    }

    @Override
    public void onError(WebSocket webSocket, Throwable error) {
      closed.complete(new Closed(-1, String.valueOf(error)));
    }
  }
}
