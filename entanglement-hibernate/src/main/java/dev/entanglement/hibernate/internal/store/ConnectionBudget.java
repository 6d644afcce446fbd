package dev.entanglement.hibernate.internal.store;

import dev.entanglement.hibernate.EntanglementSettings;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.hibernate.SessionFactory;
import org.hibernate.exception.JDBCConnectionException;

/**
 * The plugin's share of the application's connection pool: its own threads hold at most
 * {@link EntanglementSettings#DB_CONNECTIONS} connections at once, one of them kept for the
 * node's lease (so a busy apply or catch-up never delays a renewal into a fence). Every place
 * where a plugin thread borrows a connection enters the budget first and leaves it after giving
 * the connection back; the application's own transactions, and {@code update}/{@code create}/
 * {@code delete} on the caller's thread, are not counted.
 *
 * <p>A thread that already holds a permit enters again for free (a policy reading an entity
 * inside an apply), so nesting can never wait on itself. A wait longer than
 * {@link #WAIT} fails with a {@link JDBCConnectionException}, which every caller already treats as
 * a transient failure of the database (tried again later), as it would an empty pool.
 *
 * <p>Thread-safe: permits are fair semaphores; the nesting depth is per thread. One budget per
 * session factory, registered by the node at boot and dropped at its stop.
 */
public final class ConnectionBudget {
  /** How long a plugin thread waits for a permit before its work counts as a transient failure. */
  static final Duration WAIT = Duration.ofSeconds(5);
  private static final Map<SessionFactory, ConnectionBudget> BY_FACTORY = new ConcurrentHashMap<>();
  /** For factories without a node (tools and tests that use the stores directly): no limit. */
  private static final ConnectionBudget UNLIMITED = new ConnectionBudget(Integer.MAX_VALUE, WAIT);

  private final int size;
  private final Duration wait;
  private final Semaphore shared;
  private final Semaphore lease = new Semaphore(1, true);
  private final ThreadLocal<int[]> depth = ThreadLocal.withInitial(() -> new int[1]);

  ConnectionBudget(int size, Duration wait) {
    if (size < 2) {
      throw new IllegalArgumentException("a connection budget needs at least 2 connections: " + size);
    }
    this.size = size;
    this.wait = wait;
    this.shared = new Semaphore(size == Integer.MAX_VALUE ? Integer.MAX_VALUE : size - 1, true);
  }

  /** Registers a node's budget of {@code size} connections (at least 2) for its session factory. */
  public static ConnectionBudget register(SessionFactory factory, int size) {
    ConnectionBudget budget = new ConnectionBudget(size, WAIT);
    BY_FACTORY.put(factory, budget);
    return budget;
  }

  /** Drops the budget of a factory whose node stopped. */
  public static void unregister(SessionFactory factory) {
    BY_FACTORY.remove(factory);
  }

  /** The budget of a factory's node, or no limit when no node runs on it. */
  public static ConnectionBudget of(SessionFactory factory) {
    return BY_FACTORY.getOrDefault(factory, UNLIMITED);
  }

  /** A permit for one connection of the shared part; close it after the connection went back. */
  public Permit enter() {
    return enter(shared, "shared");
  }

  /** The lease's own permit (renewals, heartbeats, take-overs): never behind other work. */
  public Permit enterForLease() {
    return enter(lease, "lease");
  }

  private Permit enter(Semaphore permits, String part) {
    int[] held = depth.get();
    if (held[0] > 0) {
      held[0]++;
      return () -> held[0]--;
    }
    boolean acquired;
    try {
      acquired = permits.tryAcquire(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unavailable("interrupted while waiting for one of the plugin's %d connections (%s)".formatted(size, part));
    }
    if (!acquired) {
      throw unavailable(("all of the plugin's %d connections (%s) stayed in use for %d ms; raise %s if the pool "
          + "has room").formatted(size, part, wait.toMillis(), EntanglementSettings.DB_CONNECTIONS));
    }
    held[0] = 1;
    return () -> {
      held[0] = 0;
      permits.release();
    };
  }

  private static JDBCConnectionException unavailable(String message) {
    return new JDBCConnectionException(message, new SQLTransientConnectionException(message, "08001"));
  }

  /** One entry into the budget; closing it leaves. Closed on the thread that entered. */
  @FunctionalInterface
  public interface Permit extends AutoCloseable {
    @Override
    void close();
  }
}
