package dev.entanglement.hibernate;

import static dev.entanglement.hibernate.testing.CrashProcess.freePort;
import static dev.entanglement.hibernate.testing.CrashProcess.open;
import static dev.entanglement.hibernate.testing.CrashProcess.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.AdoptionCrashNode;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import jakarta.persistence.EntityManagerFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.hibernate.jpa.HibernatePersistenceConfiguration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An adoption killed with SIGKILL in the middle (a node in a process of its own) resumes after
 * its last committed chunk when the node starts again, without an adoption setting or call: it
 * does not start over, every row is announced exactly once, and a peer that connects afterwards
 * receives them all by catch-up.
 */
class AdoptionCrashTest {
  private static final int ROWS = 4000;
  private static final String ITEMS = "SELECT id, code, name, quantity, version FROM Item";

  @TempDir
  Path directory;
  private final List<Process> processes = new ArrayList<>();
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void killAll() throws Exception {
    processes.forEach(Process::destroyForcibly);
    for (AutoCloseable closeable : closeables) {
      closeable.close();
    }
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void anAdoptionKilledMidway_resumesAfterItsLastCommittedChunk_andALateJoinerGetsEveryRow(Database database)
      throws Exception {
    Map<String, Object> db = database == Database.H2
        ? Map.of("jakarta.persistence.jdbc.url", "jdbc:h2:file:" + directory.resolve("a") + ";WRITE_DELAY=0;AUTO_SERVER=TRUE",
            "jakarta.persistence.jdbc.user", "sa", "jakarta.persistence.jdbc.password", "")
        : database.freshDatabase("adoptcrash");
    existingRows(db);
    int port = freePort();
    Path output = directory.resolve("a.out");

    Process first = launch(db, port, true, output);
    // kill -9 once a few chunks are committed, well before the end
    await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(5))
        .until(() -> scanned(db) >= 200);
    first.destroyForcibly(); // SIGKILL
    assertThat(first.waitFor(30, TimeUnit.SECONDS)).isTrue();
    List<String> cursor = rows(db, "SELECT state, after_id, scanned, announced, skipped FROM entanglement_adoption");
    assertThat(cursor).hasSize(1);
    String[] at = cursor.get(0).split("\\|");
    assertThat(at[0]).as("killed before the end: %s", cursor).isEqualTo("RUNNING");
    long scannedAtKill = Long.parseLong(at[2]);
    assertThat(scannedAtKill).isLessThan(ROWS);
    // the cursor moved in the transactions of the chunks: exactly the rows it passed have bookkeeping
    assertThat(count(db, "SELECT COUNT(*) FROM entanglement_object")).isEqualTo(scannedAtKill);

    launch(db, port, false, output); // no adopt setting: the interrupted adoption resumes by itself
    await().atMost(Duration.ofSeconds(180)).until(() -> rows(db, "SELECT state FROM entanglement_adoption")
        .equals(List.of("DONE|")));

    // resumed, not restarted: a restart would have read the first rows again and skipped them
    assertThat(rows(db, "SELECT scanned, announced, skipped FROM entanglement_adoption"))
        .containsExactly(ROWS + "|" + ROWS + "|0|");
    String resumed = "resumes adopting the rows of Item after id " + at[1] + " (" + scannedAtKill + " read, " + at[3]
        + " announced so far)";
    assertThat(Files.readString(output).contains(resumed)).as("the log says: %s", resumed).isTrue();
    assertThat(count(db, "SELECT COUNT(*) FROM entanglement_object WHERE owner_node = 'a' AND deleted = FALSE"))
        .isEqualTo(ROWS);
    assertThat(count(db, "SELECT COUNT(DISTINCT serial) FROM entanglement_object")).isEqualTo(ROWS);

    TestNode late = TestNode.builder("late", Database.H2, Item.class).set(EntanglementSettings.PLAINTEXT, "true")
        .peers("127.0.0.1:" + port).start();
    closeables.add(late);
    await().atMost(Duration.ofSeconds(120)).until(() -> late.all(Item.class).size() == ROWS);
    List<String> atA = new ArrayList<>(rows(db, ITEMS));
    List<String> atLate = new ArrayList<>(late.read(em -> em.createQuery(
        "select i.id, i.code, i.name, i.quantity, i.version from Item i", Object[].class).getResultList()
        .stream().map(row -> {
          StringBuilder line = new StringBuilder();
          for (Object column : (Object[]) row) {
            line.append(column).append('|');
          }
          return line.toString();
        }).toList()));
    atA.sort(null);
    atLate.sort(null);
    assertThat(atLate.equals(atA)).as("the late joiner holds a's rows; first of a: %s, of the late joiner: %s",
        atA.get(0), atLate.get(0)).isTrue();
  }

  /** ROWS items written while the plugin was not there (its tables do not even exist yet). */
  private static void existingRows(Map<String, Object> db) throws Exception {
    HibernatePersistenceConfiguration configuration = new HibernatePersistenceConfiguration("plain")
        .managedClass(Item.class).property("hibernate.hbm2ddl.auto", "create");
    db.forEach(configuration::property);
    try (EntityManagerFactory plain = configuration.createEntityManagerFactory()) {
      plain.isOpen(); // the schema is made
    }
    try (Connection c = open(db)) {
      c.setAutoCommit(false);
      try (PreparedStatement insert = c.prepareStatement(
          "INSERT INTO Item (id, code, name, quantity, version) VALUES (?, ?, ?, ?, 0)")) {
        for (int i = 0; i < ROWS; i++) {
          insert.setObject(1, UUID.randomUUID());
          insert.setString(2, "old-" + i);
          insert.setString(3, "existing " + i);
          insert.setInt(4, i);
          insert.addBatch();
        }
        insert.executeBatch();
      }
      c.commit();
    }
  }

  private Process launch(Map<String, Object> db, int port, boolean onStart, Path output) throws Exception {
    List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
        "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), "-Dorg.jboss.logging.provider=jdk",
        AdoptionCrashNode.class.getName(), (String) db.get("jakarta.persistence.jdbc.url"),
        (String) db.get("jakarta.persistence.jdbc.user"), (String) db.get("jakarta.persistence.jdbc.password"),
        Integer.toString(port), "10", Boolean.toString(onStart));
    long readyBefore = Files.exists(output) ? Files.readString(output).lines().filter("READY"::equals).count() : 0;
    Process process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile())).start();
    processes.add(process);
    await().atMost(Duration.ofSeconds(120))
        .until(() -> Files.readString(output).lines().filter("READY"::equals).count() > readyBefore);
    return process;
  }

  private static long scanned(Map<String, Object> db) throws Exception {
    List<String> found = rows(db, "SELECT scanned FROM entanglement_adoption");
    return found.isEmpty() ? 0 : Long.parseLong(found.get(0).replace("|", ""));
  }

  private static long count(Map<String, Object> db, String query) throws Exception {
    return Long.parseLong(rows(db, query).get(0).replace("|", ""));
  }
}
