package dev.entanglement.hibernate.testing;

import java.io.PrintWriter;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A data source over a real database (H2 or PostgreSQL, one connection per borrow, no pool)
 * whose statements fail on purpose: a fault fails the next N executions of statements whose SQL
 * contains a text, with the SQLState a real failure of that kind has. Everything else reaches
 * the database unchanged. Thread-safe.
 */
public final class FailingDataSource implements DataSource {
  private final String url;
  private final String user;
  private final String password;
  private final List<Fault> faults = new CopyOnWriteArrayList<>();
  private final List<AfterCommit> afterCommits = new CopyOnWriteArrayList<>();

  FailingDataSource(String url, String user, String password) {
    this.url = url;
    this.user = user;
    this.password = password;
  }

  /** A planned failure: the next {@code times} executions of matching statements fail. */
  public static final class Fault {
    private final String sqlContains;
    private final String sqlState;
    private final AtomicInteger remaining;
    private final AtomicInteger fired = new AtomicInteger();

    private Fault(String sqlContains, String sqlState, int times) {
      this.sqlContains = sqlContains;
      this.sqlState = sqlState;
      this.remaining = new AtomicInteger(times);
    }

    /** How many executions this fault has failed so far. */
    public int fired() {
      return fired.get();
    }

    boolean fires(String sql) {
      if (sql == null || !sql.contains(sqlContains)) {
        return false;
      }
      if (remaining.getAndUpdate(n -> n > 0 ? n - 1 : n) <= 0) {
        return false;
      }
      fired.incrementAndGet();
      return true;
    }
  }

  /**
   * Fails the next {@code times} executions of statements whose SQL contains {@code sqlContains},
   * with {@code sqlState} (e.g. {@code 08006} for a lost connection, {@code 40P01} for a deadlock,
   * {@code XX000} for an internal error that says nothing about being transient).
   */
  public Fault fail(String sqlContains, String sqlState, int times) {
    Fault fault = new Fault(sqlContains, sqlState, times);
    faults.add(fault);
    return fault;
  }

  /** An action run once, on the committing thread, after a matching transaction committed. */
  private static final class AfterCommit {
    final String sqlContains;
    final Runnable action;
    final AtomicBoolean done = new AtomicBoolean();

    AfterCommit(String sqlContains, Runnable action) {
      this.sqlContains = sqlContains;
      this.action = action;
    }
  }

  /**
   * Runs {@code action} once, on the committing thread right after {@code commit()} returned, for
   * the first transaction that executed a statement whose SQL contains {@code sqlContains}: a
   * moment between a commit and whatever the committer does next.
   */
  public void afterCommit(String sqlContains, Runnable action) {
    afterCommits.add(new AfterCommit(sqlContains, action));
  }

  private void check(String sql) throws SQLException {
    for (Fault fault : faults) {
      if (fault.fires(sql)) {
        throw new SQLException("injected failure (SQLState %s) of: %s".formatted(fault.sqlState, sql), fault.sqlState);
      }
    }
  }

  @Override
  public Connection getConnection() throws SQLException {
    return wrap(DriverManager.getConnection(url, user, password));
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    return wrap(DriverManager.getConnection(url, username, password));
  }

  private Connection wrap(Connection connection) {
    Set<String> executed = ConcurrentHashMap.newKeySet(); // this transaction's statements
    return proxy(Connection.class, connection, (method, args) -> {
      Object result = method.invoke(connection, args);
      if (method.getName().equals("commit")) {
        for (AfterCommit after : afterCommits) {
          if (executed.stream().anyMatch(sql -> sql.contains(after.sqlContains)) && after.done.compareAndSet(false, true)) {
            after.action.run();
          }
        }
        executed.clear();
      } else if (method.getName().equals("rollback")) {
        executed.clear();
      }
      if (result instanceof PreparedStatement prepared) {
        String sql = (String) args[0];
        return proxy(PreparedStatement.class, prepared, (m, a) -> {
          if (m.getName().startsWith("execute")) {
            check(sql);
            executed.add(sql);
          }
          return m.invoke(prepared, a);
        });
      }
      if (result instanceof Statement statement) {
        return proxy(Statement.class, statement, (m, a) -> {
          if (m.getName().startsWith("execute") && a != null && a.length > 0 && a[0] instanceof String sql) {
            check(sql);
            executed.add(sql);
          }
          return m.invoke(statement, a);
        });
      }
      return result;
    });
  }

  private interface Call {
    Object invoke(Method method, Object[] args) throws Throwable;
  }

  @SuppressWarnings("unchecked")
  private static <T> T proxy(Class<T> type, T target, Call call) {
    InvocationHandler handler = (proxy, method, args) -> {
      try {
        return call.invoke(method, args);
      } catch (InvocationTargetException e) {
        throw e.getCause();
      }
    };
    return (T) Proxy.newProxyInstance(FailingDataSource.class.getClassLoader(), new Class<?>[] {type}, handler);
  }

  @Override
  public PrintWriter getLogWriter() {
    return null;
  }

  @Override
  public void setLogWriter(PrintWriter out) {}

  @Override
  public void setLoginTimeout(int seconds) {}

  @Override
  public int getLoginTimeout() {
    return 0;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException();
  }

  @Override
  public <T> T unwrap(Class<T> type) throws SQLException {
    if (type.isInstance(this)) {
      return type.cast(this);
    }
    throw new SQLException("not a wrapper of " + type);
  }

  @Override
  public boolean isWrapperFor(Class<?> type) {
    return type.isInstance(this);
  }
}
