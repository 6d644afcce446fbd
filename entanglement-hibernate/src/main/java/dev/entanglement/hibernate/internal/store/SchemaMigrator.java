package dev.entanglement.hibernate.internal.store;

import java.util.concurrent.atomic.AtomicBoolean;
import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.EntanglementSettings;
import java.io.PrintWriter;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Locale;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.hibernate.engine.jdbc.connections.spi.ConnectionProvider;

/** Creates and upgrades the plugin's tables with Flyway, through Hibernate's connections. */
public final class SchemaMigrator {
  /** Where the migrations live in the plugin jar (H2 and PostgreSQL). */
  public static final String LOCATION = "classpath:entanglement/db/migration";
  /**
   * Where the migrations for MariaDB and MySQL live: the same versions as {@link #LOCATION}, in
   * their types (BLOB for BYTEA, AUTO_INCREMENT, DATETIME(6), binary collation of names). A
   * sibling, not a subfolder, since Flyway reads a location's subfolders too.
   */
  public static final String MARIADB_LOCATION = "classpath:entanglement/db/mariadb";
  /** Flyway's history table for the plugin's migrations, apart from the application's own. */
  public static final String HISTORY_TABLE = "entanglement_schema_history";

  private SchemaMigrator() {}

  /** The location of the migrations for this kind of database. */
  public static String location(Vendor vendor) {
    return vendor == Vendor.MARIADB ? MARIADB_LOCATION : LOCATION;
  }

  public static void migrate(ConnectionProvider connections, Vendor vendor) {
    String location = location(vendor);
    try {
      Flyway.configure(SchemaMigrator.class.getClassLoader())
          .dataSource(new ProviderDataSource(connections))
          .locations(location)
          .table(HISTORY_TABLE)
          // the application's tables are usually there already: start our history at 0 beside them
          .baselineOnMigrate(true)
          .baselineVersion("0")
          .load()
          .migrate();
    } catch (RuntimeException e) {
      throw new EntanglementConfigurationException("Entanglement could not create its tables "
          + "with Flyway (" + location + "): " + e.getMessage(), e);
    }
  }

  /** Checks that the tables exist when the application runs the migrations itself. */
  public static void verify(Connection connection, Vendor vendor) throws SQLException {
    DatabaseMetaData meta = connection.getMetaData();
    for (String table : new String[] {"entanglement_node", "entanglement_object", "entanglement_peer_position",
        "entanglement_removed_owner", "entanglement_peer", "entanglement_compaction",
        "entanglement_change_log", "entanglement_pending_request", "entanglement_applied_request",
        "entanglement_lease", "entanglement_prior_state"}) {
      boolean found;
      try (ResultSet lower = meta.getTables(null, null, table, null);
          ResultSet upper = meta.getTables(null, null, table.toUpperCase(Locale.ROOT), null)) {
        found = lower.next() || upper.next();
      }
      if (!found) {
        throw new EntanglementConfigurationException(("Setting %s is false, but table %s does not "
            + "exist: add %s to your Flyway locations, or set %s=true").formatted(
                EntanglementSettings.SCHEMA_MIGRATE, table, location(vendor), EntanglementSettings.SCHEMA_MIGRATE));
      }
    }
  }

  /** A DataSource over Hibernate's ConnectionProvider; closing a connection hands it back. */
  private static final class ProviderDataSource implements DataSource {
    private final ConnectionProvider provider;

    ProviderDataSource(ConnectionProvider provider) {
      this.provider = provider;
    }

    @Override
    public Connection getConnection() throws SQLException {
      Connection connection = provider.getConnection();
      AtomicBoolean closed = new AtomicBoolean();
      return (Connection) Proxy.newProxyInstance(SchemaMigrator.class.getClassLoader(),
          new Class<?>[] {Connection.class}, (proxy, method, args) -> {
            if (method.getName().equals("close") && method.getParameterCount() == 0) {
              // hand it back once only: Flyway may close a connection twice, and a pool given
              // the same connection twice would share it between two sessions
              if (closed.compareAndSet(false, true)) {
                provider.closeConnection(connection);
              }
              return null;
            }
            if (method.getName().equals("isClosed") && method.getParameterCount() == 0 && closed.get()) {
              return true;
            }
            try {
              return method.invoke(connection, args);
            } catch (java.lang.reflect.InvocationTargetException e) {
              throw e.getCause();
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
    public <T> T unwrap(Class<T> iface) throws SQLException {
      throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> iface) {
      return false;
    }
  }
}
