package dev.entanglement.hibernate.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A TCP proxy on loopback that sits between two nodes so a test can break the link between them:
 * {@link #cut()} it, {@link #blackhole()} it, {@link #delay(Duration) delay} or
 * {@link #throttle(long) throttle} it, and {@link #heal()} it again, at any time, from any thread.
 * The node that listens is the target; the other node dials {@link #address()} instead.
 *
 * <pre>{@code
 * try (FaultyProxy proxy = FaultyProxy.start("127.0.0.1", targetPort)) {
 *   // dial proxy.address() instead of the target
 *   proxy.blackhole();
 *   ...
 *   proxy.heal();
 * }
 * }</pre>
 *
 * <h2>Faults</h2>
 * <ul>
 *   <li>{@link #cut()}: resets (RST) every open connection on both sides and resets every new one
 *       right after accepting it, until {@link #heal()}. Queued bytes are discarded.
 *   <li>{@link #blackhole()}: connections stay open but every byte, in both directions, is
 *       discarded, as is an end of stream or a reset; new connections are accepted and connected
 *       to the target but get the same treatment. Peers see a silent network, not a closed socket.
 *       A connection that lost anything (bytes, or an end of stream) is <em>tainted</em>: its byte
 *       stream has a hole, so resuming it would feed the peers a corrupt HTTP/2 stream. It
 *       therefore stays silent even after the black hole ends, and {@link #heal()} resets it, so
 *       the peers reconnect through the healed link, as they would after a real partition once
 *       their keepalives gave up. A connection that stayed idle through the black hole lost
 *       nothing and carries on after {@code heal()}.
 *   <li>{@link #delay(Duration)}: each chunk is delivered no earlier than the delay after the
 *       proxy read it. Chunks wait in a queue per direction, so the delay adds latency without
 *       limiting throughput (up to {@value #MAX_QUEUED_BYTES} bytes in flight per direction, so
 *       at most that many bytes per delay). The delay in force when a chunk becomes due is the one
 *       that counts, so {@code heal()} also releases chunks already waiting.
 *   <li>{@link #throttle(long)}: a token bucket per direction limits each direction to the rate,
 *       with bursts of at most a tenth of a second's worth.
 *   <li>{@link #heal()}: removes all of the above.
 * </ul>
 * Faults combine: a delayed link can be throttled too; {@code cut()} wins over everything.
 *
 * <h2>Counters</h2>
 * {@link #bytesForwarded(Direction)} counts bytes written to the receiving socket (handed to the
 * kernel, not necessarily read by the peer yet); {@link #bytesDropped(Direction)} counts bytes
 * the black hole discarded; {@link #connectionsAccepted()} counts every accepted connection,
 * including those reset because the link was cut or the target was down, so it also counts a
 * peer's reconnect attempts.
 *
 * <h2>Concurrency</h2>
 * <ul>
 *   <li>The <b>acceptor</b> thread ({@code faulty-proxy-<port>-accept}) owns the listening socket:
 *       it accepts, connects to the target and starts the connection's threads.
 *   <li>Each connection has a pipe per direction, and each pipe two threads
 *       ({@code faulty-proxy-<port>-conn<n>-c2s-read}, {@code ...-c2s-write}, and the same with
 *       {@code s2c}). The <b>reader</b> owns the source socket's input: it reads chunks, discards
 *       them while the connection drops bytes, and otherwise stamps them with the time read and
 *       appends them to the pipe's queue, blocking while the queue is full. The <b>writer</b>
 *       owns the destination socket's output and the pipe's token bucket: it waits until the
 *       head chunk is due, then for tokens, then writes. Splitting them is what lets a delay add
 *       latency without adding a stop-and-wait throttle.
 *   <li>The pipe's queue is guarded by the pipe's lock; the reader and writer wait on its two
 *       conditions (timed waits only, no spinning).
 *   <li>Faults are volatile fields written by the test thread. Every change signals each pipe's
 *       conditions under its lock, so waiting writers re-evaluate at once; every wait re-reads
 *       the fields under the same lock, so no change is missed.
 *   <li>Closing a connection is idempotent and may happen from any thread: the test thread
 *       ({@code cut()}, {@code heal()}, {@code close()}), or one of its own threads on an end of
 *       stream or a socket error. Closing the sockets is what unblocks threads in reads and
 *       writes.
 *   <li>All threads are daemon threads; {@link #close()} waits until they have all ended.
 * </ul>
 */
public final class FaultyProxy implements AutoCloseable {

  /** Which way bytes flow through the proxy. */
  public enum Direction {
    /** From the peer that dialed the proxy to the target. */
    CLIENT_TO_SERVER("c2s"),
    /** From the target back to the peer that dialed the proxy. */
    SERVER_TO_CLIENT("s2c");

    private final String tag;

    Direction(String tag) {
      this.tag = tag;
    }
  }

  private static final int READ_BUFFER_BYTES = 16 * 1024;
  /** Bytes a pipe may hold before its reader stops reading, so a slow link pushes back on the sender. */
  private static final int MAX_QUEUED_BYTES = 1024 * 1024;
  private static final int CONNECT_TIMEOUT_MILLIS = 5_000;
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);

  private final String targetHost;
  private final int targetPort;
  private final ServerSocket server;
  private final String threadPrefix;

  private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
  private final AtomicLong connectionIds = new AtomicLong();
  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLongArray forwarded = new AtomicLongArray(Direction.values().length);
  private final AtomicLongArray dropped = new AtomicLongArray(Direction.values().length);

  private volatile boolean closed;
  private volatile boolean cut;
  private volatile boolean blackholed;
  private volatile long delayNanos;
  private volatile long bytesPerSecond;
  /** The target socket the acceptor is connecting, so {@link #close()} can abort the connect. */
  private volatile Socket connecting;

  private FaultyProxy(String targetHost, int targetPort, ServerSocket server) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    this.server = server;
    this.threadPrefix = "faulty-proxy-" + server.getLocalPort() + "-";
  }

  /** Starts a proxy listening on a free port of 127.0.0.1 that forwards to the target. */
  public static FaultyProxy start(String targetHost, int targetPort) {
    ServerSocket server;
    try {
      server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on 127.0.0.1", e);
    }
    FaultyProxy proxy = new FaultyProxy(targetHost, targetPort, server);
    proxy.spawn("accept", proxy::acceptLoop);
    return proxy;
  }

  /** The port the proxy listens on. */
  public int port() {
    return server.getLocalPort();
  }

  /** {@code 127.0.0.1:<port>}: the address to dial instead of the target. */
  public String address() {
    return "127.0.0.1:" + port();
  }

  /** Resets every open connection and every new one until {@link #heal()}. */
  public void cut() {
    cut = true;
    // after setting the flag: a connection the acceptor registers from now on sees it itself
    for (Connection connection : connections) {
      connection.close(true);
    }
  }

  /**
   * Silently discards every byte in both directions, on open and new connections, until
   * {@link #heal()}, which resets the connections that lost bytes (see the class comment).
   */
  public void blackhole() {
    blackholed = true;
    wakeAll(); // so chunks already due, or waiting for tokens, are discarded now
  }

  /** Delays each chunk in each direction by {@code oneWay}; zero removes the delay. */
  public void delay(Duration oneWay) {
    if (oneWay.isNegative()) {
      throw new IllegalArgumentException("negative delay: " + oneWay);
    }
    delayNanos = oneWay.toNanos();
    wakeAll();
  }

  /** Limits each direction to {@code bytesPerSecond}; 0 removes the limit. */
  public void throttle(long bytesPerSecond) {
    if (bytesPerSecond < 0) {
      throw new IllegalArgumentException("negative rate: " + bytesPerSecond);
    }
    this.bytesPerSecond = bytesPerSecond;
    wakeAll();
  }

  /**
   * Removes all faults: new connections work again, queued chunks are delivered now, and
   * connections that lost bytes to a black hole are reset.
   */
  public void heal() {
    cut = false;
    delayNanos = 0;
    bytesPerSecond = 0;
    blackholed = false;
    // after clearing the flag: a connection tainted from now on resets itself (see dropping())
    for (Connection connection : connections) {
      if (connection.tainted) {
        connection.close(true);
      } else {
        connection.wake();
      }
    }
  }

  /** Bytes written to the receiving side in the given direction, over all connections. */
  public long bytesForwarded(Direction direction) {
    return forwarded.get(direction.ordinal());
  }

  /** Bytes forwarded in both directions. */
  public long bytesForwarded() {
    return bytesForwarded(Direction.CLIENT_TO_SERVER) + bytesForwarded(Direction.SERVER_TO_CLIENT);
  }

  /** Bytes the black hole discarded in the given direction, over all connections. */
  public long bytesDropped(Direction direction) {
    return dropped.get(direction.ordinal());
  }

  /** Connections accepted so far, including those reset right away. */
  public long connectionsAccepted() {
    return accepted.get();
  }

  /** Connections currently open (accepted, connected to the target and not closed yet). */
  public int openConnections() {
    return connections.size();
  }

  /** Stops accepting, resets all connections and waits until all the proxy's threads ended. */
  @Override
  public void close() {
    closed = true;
    closeQuietly(server, false);
    Socket pending = connecting;
    if (pending != null) {
      closeQuietly(pending, true);
    }
    for (Connection connection : connections) {
      connection.close(true);
    }
    long deadline = System.nanoTime() + CLOSE_TIMEOUT.toNanos();
    // a loop, because the acceptor may start a connection's threads while we join the others
    while (!threads.isEmpty()) {
      for (Thread thread : threads) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IllegalStateException("proxy threads did not stop: " + List.copyOf(threads));
        }
        try {
          TimeUnit.NANOSECONDS.timedJoin(thread, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  @Override
  public String toString() {
    return "FaultyProxy[" + address() + " -> " + targetHost + ":" + targetPort + "]";
  }

  private void acceptLoop() {
    while (true) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        if (closed) {
          return;
        }
        throw new UncheckedIOException("accept failed on " + this, e);
      }
      accepted.incrementAndGet();
      if (cut || closed) {
        closeQuietly(client, true);
        continue;
      }
      Socket target = new Socket();
      connecting = target;
      try {
        if (closed) {
          throw new SocketException("proxy closed");
        }
        target.connect(new InetSocketAddress(targetHost, targetPort), CONNECT_TIMEOUT_MILLIS);
        // the peers disable Nagle; the proxy hop must not add it back to small HTTP/2 frames
        client.setTcpNoDelay(true);
        target.setTcpNoDelay(true);
      } catch (IOException e) {
        // target down: the client sees its connection reset, close to what dialing it would give
        closeQuietly(target, true);
        closeQuietly(client, true);
        continue;
      } finally {
        connecting = null;
      }
      Connection connection = new Connection(connectionIds.incrementAndGet(), client, target);
      connections.add(connection);
      // after registering: cut() or close() may have swept the connections just before
      if (cut || closed) {
        connection.close(true);
        continue;
      }
      if (blackholed) {
        connection.dropping(); // born in the black hole: taint it before any byte passes
      }
      connection.start();
    }
  }

  private void spawn(String name, Runnable body) {
    Thread thread = new Thread(() -> {
      try {
        body.run();
      } finally {
        threads.remove(Thread.currentThread());
      }
    }, threadPrefix + name);
    thread.setDaemon(true);
    threads.add(thread); // before start(), so close() cannot miss it
    thread.start();
  }

  private void wakeAll() {
    for (Connection connection : connections) {
      connection.wake();
    }
  }

  private static void closeQuietly(AutoCloseable closeable, boolean reset) {
    try {
      if (reset && closeable instanceof Socket socket) {
        socket.setSoLinger(true, 0); // close with RST rather than FIN
      }
    } catch (IOException ignored) {
      // already closed
    }
    try {
      closeable.close();
    } catch (Exception ignored) {
      // closing is best effort
    }
  }

  /** One accepted connection and its connection to the target. */
  private final class Connection {
    private final long id;
    private final Socket client;
    private final Socket target;
    private final Pipe clientToServer;
    private final Pipe serverToClient;
    private final AtomicBoolean closedFlag = new AtomicBoolean();
    /** Directions whose end of stream was passed on; at two the connection is done. */
    private final AtomicInteger halfClosed = new AtomicInteger();
    /** Lost bytes to a black hole: stays silent until reset (see the class comment). */
    private volatile boolean tainted;

    Connection(long id, Socket client, Socket target) {
      this.id = id;
      this.client = client;
      this.target = target;
      this.clientToServer = new Pipe(this, Direction.CLIENT_TO_SERVER, client, target);
      this.serverToClient = new Pipe(this, Direction.SERVER_TO_CLIENT, target, client);
    }

    void start() {
      clientToServer.start();
      serverToClient.start();
    }

    boolean isClosed() {
      return closedFlag.get();
    }

    /**
     * Whether this connection discards what passes now; tainting it if the black hole is on.
     * Must not be called under a pipe's lock (it may close the connection).
     */
    boolean dropping() {
      if (tainted) {
        return true;
      }
      if (!blackholed) {
        return false;
      }
      tainted = true;
      // heal() clears the flag, then resets tainted connections; if it cleared the flag since we
      // read it, its sweep may have missed us, so reset ourselves (both sides write, then read)
      if (!blackholed) {
        close(true);
      }
      return true;
    }

    /** Called by a writer after passing on its direction's end of stream. */
    void halfClosed() {
      if (halfClosed.incrementAndGet() == 2) {
        close(false);
      }
    }

    void close(boolean reset) {
      if (!closedFlag.compareAndSet(false, true)) {
        return;
      }
      connections.remove(this);
      closeQuietly(client, reset);
      closeQuietly(target, reset);
      wake(); // writers waiting for a due time or tokens, readers waiting for room
    }

    void wake() {
      clientToServer.wake();
      serverToClient.wake();
    }
  }

  /** A chunk read from one side; {@code bytes == null} marks the end of the stream. */
  private record Chunk(byte[] bytes, long readNanos) {
    int length() {
      return bytes == null ? 0 : bytes.length;
    }
  }

  /** One direction of a connection: a reader, a queue of chunks and a writer. */
  private final class Pipe {
    private final Connection connection;
    private final Direction direction;
    private final Socket from;
    private final Socket to;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when a chunk arrives, a fault changes or the connection closes. */
    private final Condition writerWake = lock.newCondition();
    /** Signalled when room frees up or the connection closes. */
    private final Condition readerWake = lock.newCondition();
    private final ArrayDeque<Chunk> queue = new ArrayDeque<>(); // guarded by lock
    private long queuedBytes; // guarded by lock

    // the token bucket: writer thread only
    private long bucketRate;
    private double tokens;
    private long refilledAtNanos;

    Pipe(Connection connection, Direction direction, Socket from, Socket to) {
      this.connection = connection;
      this.direction = direction;
      this.from = from;
      this.to = to;
    }

    void start() {
      String name = "conn" + connection.id + "-" + direction.tag;
      spawn(name + "-read", this::readLoop);
      spawn(name + "-write", this::writeLoop);
    }

    void wake() {
      lock.lock();
      try {
        writerWake.signalAll();
        readerWake.signalAll();
      } finally {
        lock.unlock();
      }
    }

    private void readLoop() {
      byte[] buffer = new byte[READ_BUFFER_BYTES];
      try {
        InputStream in = from.getInputStream();
        while (true) {
          int n = in.read(buffer);
          if (n < 0) {
            if (!connection.dropping()) { // an end of stream falls into the black hole too
              enqueue(new Chunk(null, System.nanoTime()));
            }
            return;
          }
          if (connection.dropping()) {
            dropped.addAndGet(direction.ordinal(), n);
          } else if (!enqueue(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime()))) {
            return;
          }
        }
      } catch (IOException e) {
        // the source reset, or we closed it; a reset into the black hole is lost, not passed on
        if (!connection.isClosed() && !connection.dropping()) {
          connection.close(true);
        }
      }
    }

    /** Appends a chunk, waiting while the queue is full; false if the connection closed. */
    private boolean enqueue(Chunk chunk) {
      lock.lock();
      try {
        while (queuedBytes >= MAX_QUEUED_BYTES && !connection.isClosed()) {
          await(readerWake, Long.MAX_VALUE);
        }
        if (connection.isClosed()) {
          return false;
        }
        queue.add(chunk);
        queuedBytes += chunk.length();
        writerWake.signalAll();
        return true;
      } finally {
        lock.unlock();
      }
    }

    private void writeLoop() {
      try {
        OutputStream out = to.getOutputStream();
        while (true) {
          Chunk chunk = takeDue();
          if (chunk == null) {
            return;
          }
          if (chunk.bytes() == null) {
            if (!connection.dropping()) {
              to.shutdownOutput(); // pass the half-close on; the other direction may go on
              connection.halfClosed();
            }
            return;
          }
          byte[] bytes = chunk.bytes();
          int offset = 0;
          while (offset < bytes.length) {
            int n = acquire(bytes.length - offset);
            if (n == 0) {
              return;
            }
            if (connection.dropping()) { // the black hole may have opened while this chunk waited
              dropped.addAndGet(direction.ordinal(), bytes.length - offset);
              break;
            }
            out.write(bytes, offset, n);
            forwarded.addAndGet(direction.ordinal(), n);
            offset += n;
          }
        }
      } catch (IOException e) {
        // the destination reset, or we closed it
        if (!connection.isClosed() && !connection.dropping()) {
          connection.close(true);
        }
      }
    }

    /** Removes the head chunk once due under the current delay; null if the connection closed. */
    private Chunk takeDue() {
      lock.lock();
      try {
        while (true) {
          if (connection.isClosed()) {
            return null;
          }
          Chunk head = queue.peek();
          if (head == null) {
            await(writerWake, Long.MAX_VALUE);
            continue;
          }
          // the delay is read now, not when the chunk was read, so heal() releases waiting chunks
          long wait = head.readNanos() + delayNanos - System.nanoTime();
          if (wait > 0) {
            await(writerWake, wait);
            continue;
          }
          queue.poll();
          queuedBytes -= head.length();
          readerWake.signalAll();
          return head;
        }
      } finally {
        lock.unlock();
      }
    }

    /**
     * Waits until the throttle allows writing some of {@code wanted} bytes and takes the tokens.
     * Returns how many bytes may be written now, or 0 if the connection closed.
     */
    private int acquire(int wanted) {
      while (true) {
        long rate = bytesPerSecond;
        if (rate <= 0) {
          bucketRate = 0;
          return wanted;
        }
        long now = System.nanoTime();
        long capacity = Math.max(1, rate / 10); // bursts of a tenth of a second's worth at most
        if (rate != bucketRate) {
          // a new limit: start with a full bucket, or keep a debt under a changed limit
          tokens = bucketRate == 0 ? capacity : Math.min(tokens, capacity);
          bucketRate = rate;
        } else {
          tokens = Math.min(capacity, tokens + (now - refilledAtNanos) * (double) rate / 1e9);
        }
        refilledAtNanos = now;
        int slice = (int) Math.min(wanted, capacity);
        if (tokens >= slice) {
          tokens -= slice;
          return slice;
        }
        long wait = (long) Math.ceil((slice - tokens) * 1e9 / rate);
        lock.lock();
        try {
          if (connection.isClosed()) {
            return 0;
          }
          if (bytesPerSecond == rate) { // re-read under the lock, so a change cannot be missed
            await(writerWake, wait);
          }
        } finally {
          lock.unlock();
        }
      }
    }

    /** Waits on one of this pipe's conditions, with its lock held; Long.MAX_VALUE: no timeout. */
    private void await(Condition condition, long nanos) {
      try {
        if (nanos == Long.MAX_VALUE) {
          condition.await();
        } else {
          condition.awaitNanos(nanos);
        }
      } catch (InterruptedException e) {
        // nobody else knows these threads: an interrupt can only mean stop. Taking the other
        // pipe's lock here is safe: only the one thread that wins close() takes two locks
        connection.close(true);
      }
    }
  }
}
