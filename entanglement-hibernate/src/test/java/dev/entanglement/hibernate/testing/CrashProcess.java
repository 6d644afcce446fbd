package dev.entanglement.hibernate.testing;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * One {@link CrashNode} process of a crash test: how to start it again, the running one, its
 * log of what its application saw committed; and the checks' readers of that log and of a
 * node's database. Its output goes to {@code target/crash-logs/<label>.out}, appended across
 * restarts.
 *
 * <p>Used from the test's thread only.
 */
public final class CrashProcess {
  public final String name;
  public final String label;
  public final Map<String, Object> database;
  public final int port;
  public final String peer;
  public final Path log;
  private final List<Process> started;
  private Process process;
  private long readyBefore;

  /**
   * A process of node {@code name}, told apart by {@code label} (several members of one node),
   * listening on {@code port} (0: none) and dialing {@code peer} (-: none); every process it
   * starts is added to {@code started}, for the test to kill at its end.
   */
  public CrashProcess(String name, String label, Map<String, Object> database, int port, String peer,
      Path directory, List<Process> started) {
    this.name = name;
    this.label = label;
    this.database = database;
    this.port = port;
    this.peer = peer;
    this.log = directory.resolve(label + ".log");
    this.started = started;
  }

  /** Starts the process and waits until its node has booted; {@code extra}: CrashNode's optional tag. */
  public void start(long pace, long seed, String load, String... extra) throws Exception {
    launch(pace, seed, load, extra);
    awaitReady();
  }

  /** Starts the process; {@link #awaitReady} waits until its node has booted (several boot at once). */
  public void launch(long pace, long seed, String load, String... extra) throws Exception {
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
        "-Dorg.jboss.logging.provider=jdk", CrashNode.class.getName(), name,
        (String) database.get("jakarta.persistence.jdbc.url"), (String) database.get("jakarta.persistence.jdbc.user"),
        (String) database.get("jakarta.persistence.jdbc.password"), Integer.toString(port), peer,
        Long.toString(pace), log.toString(), Long.toString(seed), load));
    command.addAll(List.of(extra));
    Path output = output();
    Files.createDirectories(output.getParent());
    Files.writeString(output, "---- start pace " + pace + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    readyBefore = Files.readString(output).lines().filter("READY"::equals).count();
    process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile())).start();
    started.add(process);
  }

  public void awaitReady() {
    await().atMost(Duration.ofSeconds(120)).until(() -> Files.readString(output()).lines().filter("READY"::equals).count() > readyBefore);
  }

  /** Where the process's output goes. */
  public Path output() {
    return Path.of("target", "crash-logs", label + ".out");
  }

  public void kill() throws InterruptedException {
    process.destroyForcibly(); // SIGKILL
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** The running process's id. */
  public long pid() {
    return process.pid();
  }

  /** Stops the load (the process serves on) and waits until it has: its log is final then. */
  public void stopLoad() throws IOException {
    Files.writeString(Path.of(log + ".stop"), "");
    await().atMost(Duration.ofSeconds(30)).until(() -> {
      String out = Files.readString(output());
      return out.substring(out.lastIndexOf("---- start")).lines().anyMatch("STOPPED"::equals);
    });
  }

  public long logLines() throws IOException {
    return Files.exists(log) ? Files.readAllLines(log).size() : 0;
  }

  public static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }

  /**
   * Each object's last logged state: its quantity, or {@code D} once deleted; what the owner's
   * application saw committed last.
   */
  public static Map<String, String> lastLogged(Path log) throws IOException {
    Map<String, String> last = new HashMap<>();
    for (String line : Files.readAllLines(log)) {
      String[] parts = line.split(" ");
      if (parts.length == 2 && !parts[1].equals("D?")) {
        last.put(parts[0], parts[1]);
      }
    }
    return last;
  }

  /** Objects whose delete may have committed (logged before the commit). */
  public static Set<String> intendedDeletes(Path log) throws IOException {
    Set<String> intended = new HashSet<>();
    for (String line : Files.readAllLines(log)) {
      if (line.endsWith(" D?")) {
        intended.add(line.substring(0, line.length() - 3));
      }
    }
    return intended;
  }

  /**
   * What the logs say the database must hold and does not: every object at its logged quantity
   * or above (quantities only grow; a commit may have happened and not been logged before a
   * kill), none logged as deleted, and an object may be missing only if its delete was about to
   * commit.
   */
  public static List<String> notHeld(Map<String, String> logged, Set<String> aboutToBeDeleted,
      Map<String, Integer> held) {
    List<String> lost = new ArrayList<>();
    for (Map.Entry<String, String> entry : logged.entrySet()) {
      String id = entry.getKey();
      Integer quantity = held.get(id);
      boolean deleted = entry.getValue().equals("D");
      boolean present = deleted ? quantity == null
          : quantity != null ? quantity >= Integer.parseInt(entry.getValue()) : aboutToBeDeleted.contains(id);
      if (!present) {
        lost.add(id + " logged " + entry.getValue() + ", held " + quantity);
      }
    }
    return lost;
  }

  /** The quantity of every Item. */
  public static Map<String, Integer> quantities(Map<String, Object> database) throws SQLException {
    Map<String, Integer> quantities = new TreeMap<>();
    try (Connection c = open(database); Statement s = c.createStatement();
        ResultSet rows = s.executeQuery("SELECT id, quantity FROM Item")) {
      while (rows.next()) {
        quantities.put(rows.getString(1), rows.getInt(2));
      }
    }
    return quantities;
  }

  /** The rows of a query, each as its columns joined by {@code |}. */
  public static List<String> rows(Map<String, Object> database, String query) throws SQLException {
    List<String> result = new ArrayList<>();
    try (Connection c = open(database); Statement s = c.createStatement(); ResultSet rows = s.executeQuery(query)) {
      int columns = rows.getMetaData().getColumnCount();
      while (rows.next()) {
        StringBuilder line = new StringBuilder();
        for (int i = 1; i <= columns; i++) {
          line.append(rows.getString(i)).append('|');
        }
        result.add(line.toString());
      }
    }
    return result;
  }

  public static Connection open(Map<String, Object> database) throws SQLException {
    return DriverManager.getConnection((String) database.get("jakarta.persistence.jdbc.url"),
        (String) database.get("jakarta.persistence.jdbc.user"), (String) database.get("jakarta.persistence.jdbc.password"));
  }
}
