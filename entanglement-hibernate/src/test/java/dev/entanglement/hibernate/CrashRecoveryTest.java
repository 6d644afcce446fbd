package dev.entanglement.hibernate;

import static dev.entanglement.hibernate.testing.CrashProcess.freePort;
import static dev.entanglement.hibernate.testing.CrashProcess.intendedDeletes;
import static dev.entanglement.hibernate.testing.CrashProcess.lastLogged;
import static dev.entanglement.hibernate.testing.CrashProcess.notHeld;
import static dev.entanglement.hibernate.testing.CrashProcess.quantities;
import static dev.entanglement.hibernate.testing.CrashProcess.rows;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.CrashProcess;
import dev.entanglement.hibernate.testing.Database;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Nodes in processes of their own, killed with SIGKILL at seeded random moments while the owner
 * commits (inserts, updates, deletes, two-row transactions) and a receiver behind a relay sends
 * update requests, and started again on the same database: every transaction the owner's
 * process saw committed is present at the owner and equal at the relay and the receiver,
 * nothing is parked, nothing duplicated, and every update request the receiver stored (in the
 * application's transaction, before a SIGKILL or not) has reached the owner and settled.
 *
 * <p>The seed is printed; {@code -Dentanglement.crash.seed=N} reruns it. The suite runs a short
 * campaign ({@code entanglement.crash.kills}, 6 by default); {@code -Dentanglement.crash.kills=40}
 * makes a long one.
 */
class CrashRecoveryTest {
  private static final String ITEMS = "SELECT id, code, name, quantity, version FROM Item ORDER BY id";

  @TempDir
  Path directory;
  private final List<Process> processes = new ArrayList<>();

  @AfterEach
  void killAll() {
    processes.forEach(Process::destroyForcibly);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void ownerRelayAndReceiverKilledAtRandom_loseNothingTheOwnerCommitted(Database database) throws Exception {
    long seed = Long.getLong("entanglement.crash.seed", new Random().nextLong());
    int kills = Integer.getInteger("entanglement.crash.kills", 6);
    System.out.printf("CrashRecoveryTest %s: seed %d, %d kills (rerun with -Dentanglement.crash.seed=%d)%n",
        database, seed, kills, seed);
    Random random = new Random(seed);
    // a line: a owns and commits, b relays, c receives and sends update requests back through b
    int portA = freePort();
    int portB = freePort();
    CrashProcess a = process("a", connection(database, "crash_a"), portA, "-");
    CrashProcess b = process("b", connection(database, "crash_b"), portB, "127.0.0.1:" + portA);
    CrashProcess c = process("c", connection(database, "crash_c"), 0, "127.0.0.1:" + portB);
    long cOutputBefore = Files.exists(c.output()) ? Files.size(c.output()) : 0;
    a.start(5, random.nextLong(), "owner");
    b.start(0, 0, "owner");
    c.start(20, random.nextLong(), "requester");

    List<String> events = new ArrayList<>();
    for (int kill = 0; kill < kills; kill++) {
      long target = a.logLines() + 5 + random.nextInt(60); // a few more commits, then a kill
      await().atMost(Duration.ofSeconds(60)).until(() -> a.logLines() >= target);
      CrashProcess victim = List.of(a, b, c).get(random.nextInt(3));
      victim.kill();
      events.add("kill " + victim.name + " after " + target + " log lines");
      victim.start(victim == a ? 5 : victim == c ? 20 : 0, random.nextLong(), victim == c ? "requester" : "owner");
    }
    // the load stops (a and c killed once more and started without it), and everyone catches up
    a.kill();
    c.kill();
    a.start(0, 0, "owner");
    c.start(0, 0, "requester");

    Map<String, String> logged = lastLogged(a.log);
    assertThat(logged).as("the owner committed something").isNotEmpty();
    for (CrashProcess peer : List.of(b, c)) {
      awaitHoldsWhatAHolds(seed, a, peer, List.of(a, b, c), events);
    }
    Map<String, Integer> atOwner = quantities(a.database);
    List<String> lostByTheDatabase = notHeld(logged, intendedDeletes(a.log), atOwner);
    if (database == Database.H2) {
      // H2 can lose its last commits to SIGKILL even with WRITE_DELAY=0 (h2database issue 1259;
      // seen here on a loaded machine): the owner's own database is not the plugin's to keep, so
      // only the peers' convergence to what the owner really has (checked above) is asserted
      System.out.printf("CrashRecoveryTest H2 seed %d: H2 lost %d commits the owner's application saw%s%n", seed,
          lostByTheDatabase.size(), lostByTheDatabase.isEmpty() ? "" : ", e.g. " + lostByTheDatabase.get(0));
    } else {
      assertThat(lostByTheDatabase).as("seed %d: commits the owner logged and its database does not hold", seed)
          .isEmpty();
    }
    for (CrashProcess peer : List.of(b, c)) {
      assertThat(rows(peer.database, "SELECT entity_name, object_id, reason FROM entanglement_parked"))
          .as("seed %d: nothing parked at %s", seed, peer.name).isEmpty();
    }
    // the requester's stored requests, SIGKILLs or not, all reached the owner and settled
    await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250))
        .until(() -> rows(c.database, "SELECT request_key FROM entanglement_pending_request").isEmpty());
    long applied = Long.parseLong(rows(a.database,
        "SELECT count(*) FROM entanglement_applied_request WHERE origin_node = 'c'").get(0).replace("|", ""));
    // how many the owner applied (the rest were refused: the object changed at the owner since c's
    // copy, which a's pace makes likely, and more so when c is killed again and again before it
    // holds its links for long): a figure, not a condition; that none is lost is checked above
    String cOutput = Files.readString(c.output());
    long refusedByOwner = cOutput.substring((int) Math.min(cOutputBefore, cOutput.length())).lines()
        .filter(line -> line.contains("to owner 'a' was refused")).count();
    System.out.printf("CrashRecoveryTest %s seed %d: the owner applied %d requests of c, refused %d (logged)%n",
        database, seed, applied, refusedByOwner);
  }

  @org.junit.jupiter.api.Test
  void ownerWhoseDatabaseLosesCommits_isFollowedByItsPeer() throws Exception {
    long seed = Long.getLong("entanglement.crash.seed", new Random().nextLong());
    int kills = Math.max(2, Integer.getInteger("entanglement.crash.kills", 6) / 2);
    System.out.printf("CrashRecoveryTest lost commits: seed %d, %d kills (rerun with -Dentanglement.crash.seed=%d)%n",
        seed, kills, seed);
    Random random = new Random(seed);
    int portA = freePort();
    // H2's default write delay: a killed owner loses commits its peer already holds
    Map<String, Object> lossy = Map.of("jakarta.persistence.jdbc.url",
        "jdbc:h2:file:" + directory.resolve("lossy_a") + ";WRITE_DELAY=1000;AUTO_SERVER=TRUE",
        "jakarta.persistence.jdbc.user", "sa", "jakarta.persistence.jdbc.password", "");
    CrashProcess a = process("a", lossy, portA, "-");
    CrashProcess b = process("b", connection(Database.H2, "follower_b"), freePort(), "127.0.0.1:" + portA);
    a.start(5, random.nextLong(), "owner");
    b.start(0, 0, "owner");
    for (int kill = 0; kill < kills; kill++) {
      long target = a.logLines() + 20 + random.nextInt(60);
      await().atMost(Duration.ofSeconds(60)).until(() -> a.logLines() >= target);
      a.kill();
      a.start(5, random.nextLong(), "owner");
    }
    a.kill();
    a.start(0, 0, "owner");
    // b converges to what a really has, lost commits included (newer states b held are replaced)
    awaitHoldsWhatAHolds(seed, a, b, List.of(a, b), "kills of a: " + kills);
  }

  /** Waits until the peer's rows equal a's; on timeout, fails naming what differs and the bookkeeping of both. */
  private void awaitHoldsWhatAHolds(long seed, CrashProcess a, CrashProcess peer, List<CrashProcess> nodes,
      Object events) throws java.sql.SQLException {
    try {
      await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250))
          .until(() -> rows(a.database, ITEMS).equals(rows(peer.database, ITEMS)));
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      List<String> atA = rows(a.database, ITEMS);
      List<String> atPeer = rows(peer.database, ITEMS);
      List<String> missing = new ArrayList<>(atA);
      missing.removeAll(atPeer);
      List<String> extra = new ArrayList<>(atPeer);
      extra.removeAll(atA);
      StringBuilder bookkeeping = new StringBuilder();
      List<String> differing = new ArrayList<>(extra.subList(0, Math.min(3, extra.size())));
      differing.addAll(missing.subList(0, Math.min(3, missing.size())));
      for (String row : differing) {
        String id = row.substring(0, row.indexOf('|'));
        for (CrashProcess node : nodes) {
          bookkeeping.append(node.name).append(": ").append(rows(node.database,
              "SELECT * FROM entanglement_object WHERE object_id = '" + id + "'")).append("; ");
        }
      }
      throw new AssertionError(String.format("seed %d: %s does not hold what a holds after 90 s (%d rows at a, %d at %s)"
          + "; %d of a's rows differ or are missing there, e.g. %s; %d rows only there, e.g. %s; positions at %s %s"
          + ", at a %s; events %s", seed, peer.name, atA.size(), atPeer.size(), peer.name, missing.size(),
          missing.subList(0, Math.min(5, missing.size())), extra.size(), extra.subList(0, Math.min(5, extra.size())),
          peer.name, rows(peer.database, "SELECT * FROM entanglement_owner_position"),
          rows(a.database, "SELECT * FROM entanglement_owner_position"), events)
          + "; bookkeeping of the differing rows: " + bookkeeping, e);
    }
  }

  private Map<String, Object> connection(Database database, String name) {
    if (database == Database.H2) {
      return Map.of("jakarta.persistence.jdbc.url",
          "jdbc:h2:file:" + directory.resolve(name) + ";WRITE_DELAY=0;AUTO_SERVER=TRUE",
          "jakarta.persistence.jdbc.user", "sa", "jakarta.persistence.jdbc.password", "");
    }
    return database.freshDatabase(name);
  }

  private CrashProcess process(String name, Map<String, Object> database, int port, String peer) {
    return new CrashProcess(name, name, database, port, peer, directory, processes);
  }
}
