package dev.entanglement.hibernate.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * A real MariaDB server for tests: Debian's {@code mariadbd} (package mariadb-server), one per test
 * JVM, started on first use in a temporary data directory made by {@code mariadb-install-db}, on a
 * free loopback port, stopped (and its directory removed) when the JVM exits. The system's own
 * MariaDB service, if any, is not used.
 *
 * <p>Without {@code mariadbd} the tests on MariaDB are skipped with the reason, unless the
 * environment variable {@code CI} is set: there they fail ({@code .ci/run} installs the package).
 * {@code MARIADBD} names another server binary (its {@code mariadb-install-db} is looked for beside
 * it, then in /usr/bin).
 *
 * <h2>Concurrency</h2>
 * {@link #get} is synchronized on the class; the instance is immutable once started.
 */
public final class MariaDbServer {
  private static MariaDbServer server;

  private final Process process;
  private final Path directory;
  private final int port;

  private MariaDbServer(Process process, Path directory, int port) {
    this.process = process;
    this.directory = directory;
    this.port = port;
  }

  /** The JVM's server, started on first use; skips (or on CI fails) the calling test without mariadbd. */
  public static synchronized MariaDbServer get() {
    if (server == null) {
      Path mariadbd = binary();
      try {
        server = start(mariadbd);
      } catch (IOException e) {
        throw new UncheckedIOException("could not start " + mariadbd + ": " + e.getMessage(), e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while starting " + mariadbd, e);
      }
      MariaDbServer started = server;
      Runtime.getRuntime().addShutdownHook(new Thread(started::stop));
    }
    return server;
  }

  /** The JDBC URL of a database of this server. */
  public String jdbcUrl(String database) {
    return "jdbc:mariadb://127.0.0.1:" + port + "/" + database;
  }

  /** Creates an empty database. */
  public void createDatabase(String name) {
    try (Connection c = DriverManager.getConnection(jdbcUrl(""), "root", ""); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("could not create the MariaDB database " + name + ": " + e.getMessage(), e);
    }
  }

  private static Path binary() {
    String configured = System.getenv("MARIADBD");
    List<Path> candidates = new ArrayList<>();
    if (configured != null && !configured.isBlank()) {
      candidates.add(Paths.get(configured));
    } else {
      candidates.add(Paths.get("/usr/sbin/mariadbd"));
      String path = System.getenv("PATH");
      for (String dir : path == null ? new String[0] : path.split(java.io.File.pathSeparator)) {
        candidates.add(Paths.get(dir, "mariadbd"));
      }
    }
    for (Path candidate : candidates) {
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    String why = "mariadbd is not installed (" + (configured != null && !configured.isBlank()
        ? "MARIADBD=" + configured + " is not an executable" : "not in /usr/sbin nor on the PATH")
        + "): the tests on MariaDB need Debian's mariadb-server (apt-get install mariadb-server)";
    if (System.getenv("CI") != null) {
      throw new IllegalStateException(why + "; on CI they must run (.ci/run installs it)");
    }
    Assumptions.abort(why);
    throw new AssertionError("unreachable");
  }

  private static Path installDb(Path mariadbd) {
    Path beside = mariadbd.getParent() == null ? null : mariadbd.getParent().resolve("mariadb-install-db");
    for (Path candidate : new Path[] {beside, mariadbd.getParent() == null ? null
        : mariadbd.getParent().resolveSibling("bin").resolve("mariadb-install-db"),
        Paths.get("/usr/bin/mariadb-install-db")}) {
      if (candidate != null && Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException("mariadb-install-db not found beside " + mariadbd + " nor in /usr/bin");
  }

  private static MariaDbServer start(Path mariadbd) throws IOException, InterruptedException {
    Path directory = Files.createTempDirectory("entanglement-mariadb");
    Path data = directory.resolve("data");
    String user = System.getProperty("user.name");
    Path installLog = directory.resolve("install.log");
    Process install = new ProcessBuilder(installDb(mariadbd).toString(), "--no-defaults", "--datadir=" + data,
        "--user=" + user, "--auth-root-authentication-method=normal", "--skip-test-db")
        .redirectErrorStream(true).redirectOutput(installLog.toFile()).start();
    if (!install.waitFor(120, TimeUnit.SECONDS) || install.exitValue() != 0) {
      install.destroyForcibly();
      throw new IllegalStateException("mariadb-install-db failed; its output: " + Files.readString(installLog));
    }
    int port = FreePorts.next();
    Path log = directory.resolve("mariadbd.log");
    Process process = new ProcessBuilder(mariadbd.toString(), "--no-defaults", "--datadir=" + data,
        "--user=" + user, "--port=" + port, "--bind-address=127.0.0.1", "--socket=" + directory.resolve("sock"),
        "--pid-file=" + directory.resolve("pid"), "--skip-name-resolve", "--skip-grant-tables",
        "--max-connections=1000", "--innodb-buffer-pool-size=128M",
        // Debian's packaged configuration sets utf8mb4; --no-defaults would leave latin1
        "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
        // the server outlives every node of the test JVM (nodes crash, not it): commits need not
        // reach the disk at each commit, which keeps the tests fast on a shared machine
        "--innodb-flush-log-at-trx-commit=2", "--log-error=" + log)
        .redirectErrorStream(true).redirectOutput(directory.resolve("stdout.log").toFile()).start();
    MariaDbServer started = new MariaDbServer(process, directory, port);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    SQLException last = null;
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException("mariadbd exited with " + process.exitValue() + "; its log: "
            + (Files.exists(log) ? Files.readString(log) : "(none)"));
      }
      try (Connection c = DriverManager.getConnection(started.jdbcUrl(""), "root", "")) {
        return started;
      } catch (SQLException e) {
        last = e;
      }
      process.waitFor(100, TimeUnit.MILLISECONDS); // a poll of the port: the server says nothing else when it is ready
    }
    started.stop();
    throw new IllegalStateException("mariadbd did not accept connections on port " + port + " within 60 s: "
        + (last == null ? "" : last.getMessage()));
  }

  /** Kills the server (its data goes with its directory: nothing to shut down for) and removes the directory. */
  private void stop() {
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try (Stream<Path> files = Files.walk(directory)) {
      files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException ignored) {
      // a temporary directory: the system cleans it eventually
    }
  }
}
