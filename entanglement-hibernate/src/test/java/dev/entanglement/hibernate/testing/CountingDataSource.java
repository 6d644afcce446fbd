package dev.entanglement.hibernate.testing;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A data source over a node's real database (through its JDBC driver, no pool) that counts the
 * connections it hands out, so a test can prove that some work never touches the database.
 * Install it with {@link TestNode.Builder#countConnections()}. Thread-safe.
 */
public final class CountingDataSource implements DataSource {
  private final String url;
  private final String user;
  private final String password;
  private final AtomicLong borrowed = new AtomicLong();

  CountingDataSource(String url, String user, String password) {
    this.url = url;
    this.user = user;
    this.password = password;
  }

  /** How many connections were handed out so far. */
  public long borrowed() {
    return borrowed.get();
  }

  @Override
  public Connection getConnection() throws SQLException {
    borrowed.incrementAndGet();
    return DriverManager.getConnection(url, user, password);
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    borrowed.incrementAndGet();
    return DriverManager.getConnection(url, username, password);
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
