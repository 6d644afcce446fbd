package dev.entanglement.hibernate.testing;

import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLTransientConnectionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A connection pool of a fixed size over a node's real database that fails at once when it is
 * empty (as Hibernate's built-in pool does), and records how many connections were borrowed at
 * most at the same time: in all, and by the plugin's own threads (named {@code entanglement-*}).
 * Install it with {@link TestNode.Builder#boundedPool}. Thread-safe.
 */
public final class BoundedPool implements DataSource {
  private final String url;
  private final String user;
  private final String password;
  private final int max;
  private final ConcurrentLinkedQueue<Connection> idle = new ConcurrentLinkedQueue<>();
  private final AtomicInteger borrowed = new AtomicInteger();
  private final AtomicInteger byPlugin = new AtomicInteger();
  private final AtomicInteger peak = new AtomicInteger();
  private final AtomicInteger pluginPeak = new AtomicInteger();
  private final AtomicInteger refused = new AtomicInteger();
  /** Who holds a connection now (thread and the plugin's innermost frame), for the refusals' record. */
  private final java.util.Map<Object, String> holders = new java.util.concurrent.ConcurrentHashMap<>();
  private final java.util.List<String> refusals = new java.util.concurrent.CopyOnWriteArrayList<>();

  BoundedPool(String url, String user, String password, int max) {
    this.url = url;
    this.user = user;
    this.password = password;
    this.max = max;
  }

  /** Most connections borrowed at the same time. */
  public int peak() {
    return peak.get();
  }

  /** Most connections borrowed at the same time by the plugin's own threads. */
  public int pluginPeak() {
    return pluginPeak.get();
  }

  /** Each time the pool was empty: who asked, and who held the connections. */
  public java.util.List<String> refusals() {
    return refusals;
  }

  private static String caller() {
    StackTraceElement found = null;
    for (StackTraceElement frame : Thread.currentThread().getStackTrace()) {
      if (frame.getClassName().startsWith("dev.entanglement.hibernate") && !frame.getClassName().contains("testing.")) {
        found = frame;
        break;
      }
    }
    return Thread.currentThread().getName() + " at " + found;
  }

  /** How many times a caller found the pool empty. */
  public int refused() {
    return refused.get();
  }

  @Override
  public Connection getConnection() throws SQLException {
    if (borrowed.incrementAndGet() > max) {
      borrowed.decrementAndGet();
      refused.incrementAndGet();
      if (refusals.size() < 20) {
        refusals.add(caller() + " found it empty; held by " + holders.values());
      }
      throw new SQLTransientConnectionException("the pool of " + max + " connections is empty (test BoundedPool)", "08001");
    }
    boolean plugin = Thread.currentThread().getName().startsWith("entanglement-");
    peak.accumulateAndGet(borrowed.get(), Math::max);
    if (plugin) {
      pluginPeak.accumulateAndGet(byPlugin.incrementAndGet(), Math::max);
    }
    Connection physical = idle.poll();
    try {
      if (physical == null) {
        physical = DriverManager.getConnection(url, user, password);
      }
    } catch (SQLException | RuntimeException e) {
      released(plugin);
      throw e;
    }
    Connection wrapped = wrap(physical, plugin);
    holders.put(wrapped, caller());
    return wrapped;
  }

  private void released(boolean plugin) {
    borrowed.decrementAndGet();
    if (plugin) {
      byPlugin.decrementAndGet();
    }
  }

  private Connection wrap(Connection physical, boolean plugin) {
    boolean[] closed = {false};
    return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
        (proxy, method, args) -> {
          switch (method.getName()) {
            case "close" -> {
              synchronized (closed) {
                if (!closed[0]) {
                  closed[0] = true;
                  if (!physical.getAutoCommit()) {
                    physical.rollback();
                  }
                  physical.setAutoCommit(true);
                  idle.add(physical);
                  holders.remove(proxy);
                  released(plugin);
                }
              }
              return null;
            }
            case "isClosed" -> {
              synchronized (closed) {
                return closed[0] || physical.isClosed();
              }
            }
            case "unwrap" -> {
              return ((Class<?>) args[0]).isInstance(proxy) ? proxy : physical.unwrap((Class<?>) args[0]);
            }
            default -> {
              try {
                return method.invoke(physical, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            }
          }
        });
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    return getConnection();
  }

  @Override
  public PrintWriter getLogWriter() {
    return null;
  }

  @Override
  public void setLogWriter(PrintWriter out) {
    // no log
  }

  @Override
  public void setLoginTimeout(int seconds) {
    // DriverManager's own
  }

  @Override
  public int getLoginTimeout() {
    return 0;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException("no parent logger");
  }

  @Override
  public <T> T unwrap(Class<T> type) throws SQLException {
    if (type.isInstance(this)) {
      return type.cast(this);
    }
    throw new SQLException("not a wrapper of " + type.getName());
  }

  @Override
  public boolean isWrapperFor(Class<?> type) {
    return type.isInstance(this);
  }
}
