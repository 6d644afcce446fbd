package dev.entanglement.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command-line client against running nodes, over Netty on loopback, checking what it prints. */
class EntanglementCliTest {
  private static final String TOKEN = "cli-token-0123456789abcdef";
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private TestNode a;
  private TestNode b;
  private String target;

  /** What one run printed, and its exit status. */
  record Run(int status, String out, String err) {}

  @BeforeEach
  void nodes() {
    String addressA = "cli-a-" + UUID.randomUUID();
    a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(addressA)
        .set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_TOKEN, TOKEN).start());
    b = track(TestNode.builder("b", Database.H2, Item.class).peers("inprocess:" + addressA).start());
    a.awaitConnected("b");
    target = a.entanglement().adminAddress().orElseThrow();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  private <T extends AutoCloseable> T track(T closeable) {
    closeables.add(closeable);
    return closeable;
  }

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = EntanglementCli.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    return new Run(status, out.toString(), err.toString());
  }

  private Run admin(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--target", target, "--plaintext", "--token", TOKEN));
    return run(all.toArray(String[]::new));
  }

  @Test
  void peers_asATable_andAsJson() {
    Item item = new Item("CLI1", "one", 1);
    a.inTransaction(em -> em.persist(item));
    a.awaitCaughtUp("b");
    Run table = admin("peers");
    assertThat(table.status()).as(table.err()).isZero();
    List<String> lines = table.out().lines().toList();
    assertThat(lines.get(0)).isEqualTo("node a");
    assertThat(lines.get(1).split("\\s{2,}")).containsExactly("PEER", "ADDRESS", "STATE", "SINCE", "LAG", "LAG OBJECTS",
        "OUTBOX", "SENT/S", "RECEIVED/S", "SENT", "RECEIVED", "COALESCED", "REJECTED");
    String[] row = lines.get(2).split("\\s{2,}");
    assertThat(row[0]).isEqualTo("b");
    assertThat(row[2]).isEqualTo("STREAMING");
    assertThat(row[4]).as("lag").isEqualTo("0");
    assertThat(row[6]).as("outbox").isEqualTo("0");

    Run json = admin("peers", "--json");
    assertThat(json.status()).isZero();
    assertThat(json.out()).contains("\"node\": \"a\"", "\"name\": \"b\"", "\"state\": \"STREAMING\"", "\"protocolVersion\": 1");
  }

  @Test
  void object_owners_resync_andPeerActions() {
    Item item = new Item("CLI2", "two", 2);
    a.inTransaction(em -> em.persist(item));
    a.awaitCaughtUp("b");
    Run object = admin("object", "Item", item.getId().toString());
    assertThat(object.status()).as(object.err()).isZero();
    assertThat(object.out()).containsPattern("owner\\s+a\\n").containsPattern("acknowledged by\\s+b\\n");

    Run owners = admin("owners");
    assertThat(owners.out().lines().toList()).anySatisfy(line -> assertThat(line.split("\\s{2,}")).containsExactly("a", "1", "1", "0"));

    Run resync = admin("resync", "b", "--entity", "Item");
    assertThat(resync.out().strip()).isEqualTo("sending peer 'b' 1 objects of Item again");

    Run pause = admin("peer", "pause", "b");
    assertThat(pause.out().strip()).isEqualTo("the flow with peer 'b' is paused both ways; changes coalesce meanwhile");
    Item held = new Item("CLI3", "held", 3);
    a.inTransaction(em -> em.persist(held));
    await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(3)).until(() -> b.find(Item.class, held.getId()) == null);
    assertThat(admin("peers").out()).contains("STREAMING (paused)");
    assertThat(admin("peer", "resume", "b").status()).isZero();
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, held.getId()) != null);

    assertThat(admin("peer", "remove", "b").out().strip()).isEqualTo("node 'a' stopped dialing 'b' and closed its stream");
  }

  @Test
  void failures_printTheReason_andExitNonZero() {
    Run missing = admin("object", "Item", "not-a-uuid");
    assertThat(missing.status()).isEqualTo(1);
    assertThat(missing.err().strip()).isEqualTo("error: INVALID_ARGUMENT: 'not-a-uuid' is not an id of Item; expected a UUID");

    Run anonymous = run("peers", "--target", target, "--plaintext");
    assertThat(anonymous.status()).isEqualTo(1);
    assertThat(anonymous.err()).startsWith("error: UNAUTHENTICATED: admin calls to node 'a' need credentials");

    Run wrong = run("peers", "--target", target, "--plaintext", "--token", "not-the-token-at-all");
    assertThat(wrong.err().strip()).isEqualTo("error: PERMISSION_DENIED: the admin token presented to node 'a' is not the one configured");

    Run usage = run("peers");
    assertThat(usage.status()).isEqualTo(2);
    assertThat(usage.err()).contains("Missing required option: '--target=<target>'");
  }

  @Test
  void certificateCommands(@TempDir Path dir) throws Exception {
    Run ca = run("cert", "ca", dir.resolve("ca").toString());
    assertThat(ca.status()).as(ca.err()).isZero();
    assertThat(ca.out()).startsWith("CA 'Entanglement development CA' written to " + dir.resolve("ca"));
    Run node = run("cert", "node", dir.resolve("red").toString(), "--ca", dir.resolve("ca").toString(), "--name", "red");
    assertThat(node.out()).startsWith("certificate of node 'red' written to " + dir.resolve("red"));
    assertThat(Files.readString(dir.resolve("red/private-key.pem"))).startsWith("-----BEGIN PRIVATE KEY-----");
    Run fingerprint = run("cert", "fingerprint", dir.resolve("red/certificate.pem").toString());
    assertThat(fingerprint.out().strip()).matches("[0-9a-f]{64}");
    assertThat(node.out()).contains(fingerprint.out().strip());
  }
}
