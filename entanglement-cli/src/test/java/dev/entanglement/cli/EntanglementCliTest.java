package dev.entanglement.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.testing.Certificates;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.tls.DevCertificates;
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
  @TempDir Path dir;
  private TestNode a;
  private TestNode b;
  private String target;
  private String addressA;

  /** What one run printed, and its exit status. */
  record Run(int status, String out, String err) {}

  @BeforeEach
  void nodes() {
    String listenA = "cli-a-" + UUID.randomUUID();
    addressA = "inprocess:" + listenA;
    a = track(TestNode.builder("a", Database.H2, Item.class).listenInProcess(listenA)
        .set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_TOKEN, TOKEN)
        .set(EntanglementSettings.PLAINTEXT, "true").start());
    b = track(TestNode.builder("b", Database.H2, Item.class).peers(addressA).start());
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
  void requests_listsWhatWaitsForItsOwner() {
    Item ofB = new Item("CLI-R", "of b", 1);
    b.inTransaction(em -> em.persist(ofB));
    await().atMost(Duration.ofSeconds(20)).until(() -> a.find(Item.class, ofB.getId()) != null);
    assertThat(admin("requests").out().lines().skip(1).toList()).containsExactly("(none)");
    b.entanglement().disconnect("a"); // b dialed a: it stops dialing until told to connect again
    await().atMost(Duration.ofSeconds(10)).until(() -> a.entanglement().connectedPeers().isEmpty());
    a.entanglement().update(Item.class, ofB.getId(), item -> item.setName("asked of b"));
    assertThat(a.entanglement().pendingRequests()).hasSize(1);

    Run table = admin("requests");
    assertThat(table.status()).as(table.err()).isZero();
    List<String> lines = table.out().lines().toList();
    assertThat(lines.get(0).split("\\s{2,}")).containsExactly("OBJECT", "OWNER", "KIND", "CREATED", "EXPIRES",
        "ATTEMPTS", "SENT", "LAST ERROR");
    assertThat(lines.get(1).split("\\s{2,}")).startsWith("Item#" + ofB.getId(), "b", "UPDATE");
    String[] row = lines.get(1).split("\\s{2,}");
    assertThat(row[5]).as("attempts").isEqualTo("0");
    assertThat(row[6]).as("sent").isEqualTo("no");
    assertThat(row[7]).as("why it waits").startsWith("owner 'b' was last reachable via peer 'b' until ")
        .endsWith("; no link leads to it now");
    assertThat(admin("requests", "--owner", "nobody").out().lines().skip(1).toList()).containsExactly("(none)");
    assertThat(admin("requests", "--json").out()).contains("\"owner\": \"b\"", "\"kind\": \"UPDATE\"", "\"total\": \"1\"");
    Run unknown = admin("requests", "--entity", "Nothing");
    assertThat(unknown.status()).isNotZero();
    assertThat(unknown.err()).contains("Nothing");

    b.entanglement().connect(addressA);
    await().atMost(Duration.ofSeconds(20)).until(() -> "asked of b".equals(b.find(Item.class, ofB.getId()).getName()));
    await().atMost(Duration.ofSeconds(20)).until(() -> admin("requests").out().lines().skip(1).toList()
        .equals(List.of("(none)")));
  }

  @Test
  void peers_asATable_andAsJson() {
    Item item = new Item("CLI1", "one", 1);
    a.inTransaction(em -> em.persist(item));
    a.awaitCaughtUp("b");
    Run table = admin("peers");
    assertThat(table.status()).as(table.err()).isZero();
    List<String> lines = table.out().lines().toList();
    assertThat(lines.get(0)).matches("node a \\(member [0-9a-f-]{36} on .+ \\(pid \\d+\\) since \\S+Z, lease token 1\\)");
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
  void members_theHolderFirst_thenTheFollower() {
    TestNode second = track(a.again().start());
    Object holder = a.sql("select member_id from entanglement_lease where node_name = 'a'");
    Run table = admin("members");
    assertThat(table.status()).as(table.err()).isZero();
    List<String> lines = table.out().lines().toList();
    assertThat(lines).hasSize(4);
    assertThat(lines.get(0)).matches("node a: member " + holder + " holds the links since \\S+Z \\(lease token 1\\); "
        + "2 members");
    assertThat(lines.get(1).split("\\s{2,}")).containsExactly("MEMBER", "HOST", "LINKS", "SINCE", "HEARTBEAT", "TOKEN");
    String[] first = lines.get(2).split("\\s{2,}");
    assertThat(first[0]).isEqualTo(holder);
    assertThat(first[1]).matches(".+ \\(pid \\d+\\)");
    assertThat(first[2]).isEqualTo("holds");
    assertThat(first[3]).matches("\\d{4}-\\d\\d-\\d\\dT\\S+Z");
    assertThat(first[4]).matches("\\d+\\.\\d s ago");
    assertThat(first[5]).isEqualTo("1");
    String[] follower = lines.get(3).split("\\s{2,}");
    assertThat(follower[0]).matches("[0-9a-f-]{36}").isNotEqualTo(holder);
    assertThat(follower[2]).isEqualTo("follows");
    assertThat(follower[4]).matches("\\d+\\.\\d s ago");
    assertThat(follower[5]).isEqualTo("-");

    Run json = admin("members", "--json");
    assertThat(json.status()).isZero();
    assertThat(json.out()).contains("\"node\": \"a\"", "\"member\": \"" + holder + "\"", "\"holdsLinks\": true",
        "\"holdsLinks\": false", "\"leaseToken\": \"1\"", "\"heartbeatAgeMs\": \"");
    second.close();
    await().atMost(Duration.ofSeconds(10)).until(() -> admin("members").out().lines().count() == 3);
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
    // b holds nothing of its own, yet the owner directory leads to it
    assertThat(owners.out().lines().toList()).anySatisfy(line -> assertThat(line.split("\\s{2,}")).containsExactly("b", "0", "0", "0", "b"));

    Run objectJson = admin("object", "Item", item.getId().toString(), "--json");
    assertThat(objectJson.out()).contains("\"owner\": \"a\"", "\"acknowledgedBy\": [\"b\"]", "\"entity\": \"Item\"");
    assertThat(admin("owners", "--json").out()).contains("\"owner\": \"a\"", "\"objects\": \"1\"");

    Run resync = admin("resync", "b", "--entity", "Item");
    assertThat(resync.out().strip()).isEqualTo("sending peer 'b' 1 object of Item again");
    assertThat(admin("resync", "b", "--owner", "a").out().strip())
        .isEqualTo("sending peer 'b' the objects of owner 'a' again, with a sweep");
    assertThat(admin("resync", "b", "--json").out()).contains("\"message\": \"sending peer 'b' everything again, with a sweep\"");
    assertThat(admin("resync", "b", "--verify").out().strip()).isEqualTo("sending peer 'b' everything again, with a "
        + "sweep and a content check (the peer repairs rows that differ and logs how many)");
    Run pulled = admin("resync", "b", "--from-peer", "--verify");
    assertThat(pulled.status()).as(pulled.err()).isZero();
    assertThat(pulled.out().strip()).isEqualTo("0 objects received from peer 'b', 0 repaired, 0 removed");
    Run refused = admin("resync", "b", "--entity", "Item", "--verify");
    assertThat(refused.status()).isNotZero();
    assertThat(refused.err()).contains("leave out the entity 'Item'");

    Run pause = admin("peer", "pause", "b");
    assertThat(pause.out().strip()).isEqualTo("the flow with peer 'b' is paused both ways; changes coalesce meanwhile");
    Item held = new Item("CLI3", "held", 3);
    a.inTransaction(em -> em.persist(held));
    await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(3)).until(() -> b.find(Item.class, held.getId()) == null);
    assertThat(admin("peers").out()).contains("STREAMING (paused)");
    assertThat(admin("peer", "resume", "b").status()).isZero();
    await().atMost(Duration.ofSeconds(10)).until(() -> b.find(Item.class, held.getId()) != null);

    assertThat(admin("peer", "remove", "b").out().strip())
        .isEqualTo("node 'a' closed the stream 'b' had dialed in (it may dial again: remove 'a' from its peers to keep them apart)");
  }

  @Test
  void peerAdd_andRemove_ofADialedPeer() {
    String addressC = "cli-c-" + UUID.randomUUID();
    TestNode c = track(TestNode.builder("c", Database.H2, Item.class).listenInProcess(addressC).start());
    assertThat(admin("peer", "add", "inprocess:" + addressC).out().strip()).isEqualTo("node 'a' dials inprocess:" + addressC);
    c.awaitConnected("a");
    assertThat(admin("peers").out().lines().map(line -> line.split("\\s{2,}")[0])).contains("b", "c");
    assertThat(admin("peer", "remove", "c").out().strip()).isEqualTo("node 'a' stopped dialing 'c' and closed its stream");
    await().atMost(Duration.ofSeconds(10)).until(() -> !a.entanglement().connectedPeers().contains("c"));
  }

  /** A peer added at an address nobody listens on shows in `peers` as dialing, with why it failed, and in the log. */
  @Test
  void peerAdd_ofAnUnreachableAddress_showsAsDialingWithItsLastError() {
    try (dev.entanglement.hibernate.testing.LogCapture log = dev.entanglement.hibernate.testing.LogCapture.start()) {
      Run add = admin("peer", "add", "127.0.0.1:1");
      assertThat(add.out().strip()).as(add.err()).isEqualTo("node 'a' dials 127.0.0.1:1");
      await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
        Run peers = admin("peers");
        List<String> row = peers.out().lines().filter(line -> line.contains("127.0.0.1:1")).findFirst()
            .map(line -> List.of(line.split("\\s{2,}"))).orElse(List.of());
        assertThat(row).as(peers.out()).startsWith("?", "127.0.0.1:1", "DIALING");
        assertThat(row.get(row.size() - 1)).as(peers.out()).containsIgnoringCase("connection refused");
      });
      Run json = admin("peers", "--json");
      assertThat(json.out()).contains("\"state\": \"DIALING\"").contains("\"lastError\"").contains("\"nextAttempt\"");
      assertThat(log.warnings("127.0.0.1:1")).as("the first failure of a peer never reached is a WARN").isNotEmpty();
    }
    assertThat(admin("peer", "remove", "127.0.0.1:1").status()).isZero();
    assertThat(admin("peers").out()).doesNotContain("127.0.0.1:1");
  }

  /** Objects are listed with their basic attributes, filtered by entity and owner, a page at a time. */
  @Test
  void objects_listedByEntityAndOwner_withTheirAttributes_aPageAtATime() {
    for (int i = 1; i <= 3; i++) {
      int n = i;
      a.inTransaction(em -> em.persist(new Item("A" + n, "at a " + n, n)));
    }
    Item atB = new Item("B1", "at b", 9);
    b.inTransaction(em -> em.persist(atB));
    await().atMost(Duration.ofSeconds(10)).until(() -> a.find(Item.class, atB.getId()) != null);

    Run all = admin("objects", "--entity", "Item");
    assertThat(all.status()).as(all.err()).isZero();
    List<String> lines = all.out().lines().toList();
    assertThat(lines.get(0).split("\\s{2,}")).containsExactly("ENTITY", "ID", "OWNER", "SERIAL", "STATE", "SUMMARY");
    assertThat(lines).hasSize(5);
    assertThat(lines.stream().filter(line -> line.contains(atB.getId().toString())).findFirst().orElseThrow())
        .contains("  b  ").contains("live").contains("code=B1").contains("name=at b");

    Run ofB = admin("objects", "--owner", "b");
    assertThat(ofB.out().lines().skip(1).toList()).singleElement().asString().contains(atB.getId().toString());

    Run first = admin("objects", "--entity", "Item", "--limit", "2");
    assertThat(first.out().lines().toList()).hasSize(4).last().asString().startsWith("more: --after Item#");
    String after = first.out().lines().toList().get(3).substring("more: --after ".length());
    Run second = admin("objects", "--entity", "Item", "--limit", "2", "--after", after);
    assertThat(second.out().lines().toList()).hasSize(3); // header and the last two, no "more"
    assertThat(second.out()).doesNotContain("more:");

    Run unknown = admin("objects", "--entity", "Nope");
    assertThat(unknown.status()).isEqualTo(1);
    assertThat(unknown.err()).contains("NOT_FOUND").contains("Nope");
  }

  @Test
  void adopt_announcesRowsWrittenBehindThePluginsBack_andShowsProgress() throws Exception {
    Run none = admin("adopt", "--status");
    assertThat(none.status()).isZero();
    assertThat(none.out().strip()).isEqualTo("node a: no adoption has run on this node");
    for (int i = 0; i < 3; i++) {
      a.jdbc("insert into Item (id, code, name, quantity, version) values (?, ?, 'by sql', ?, 0)", UUID.randomUUID(),
          "sql-" + i, i);
    }

    Run done = admin("adopt", "--entity", "Item", "--wait");

    assertThat(done.status()).isZero();
    assertThat(done.out().lines().toList()).first().isEqualTo("node a: adoption finished");
    assertThat(done.out()).containsPattern("ENTITY +STATE +READ +ANNOUNCED +SKIPPED +REMOVED +AFTER +ERROR")
        .containsPattern("Item +DONE +3 +3 +0 +0 +- +-");
    await().atMost(Duration.ofSeconds(30)).until(() -> b.all(Item.class).size() == 3);
    assertThat(admin("adopt", "--status").out()).containsPattern("Item +DONE +3 +3 +0 +0");
    assertThat(admin("adopt", "--status", "--json").out()).contains("\"announced\": \"3\"");

    Run unknown = admin("adopt", "--entity", "Nothing");
    assertThat(unknown.status()).isEqualTo(1);
    assertThat(unknown.err().strip()).isEqualTo("error: NOT_FOUND: node 'a' has no @Entangled entity named 'Nothing'; "
        + "it has [Item]");
    Run mixed = admin("adopt", "--status", "--wait");
    assertThat(mixed.status()).isEqualTo(2);
    assertThat(mixed.err()).startsWith("--status shows the adoptions; it takes neither --entity nor --wait");
    // the command's help (printed with a usage mistake)
    assertThat(run("adopt").err()).contains("Usage: entanglement adopt").contains("Adopts existing rows as this "
        + "node's objects").contains("--entity=<entities>").contains("resumes where it was");
  }

  @Test
  void theTokenFromAFile() throws Exception {
    Path file = Files.writeString(dir.resolve("admin.token"), TOKEN + "\n");
    Run peers = run("peers", "--target", target, "--plaintext", "--token-file", file.toString());
    assertThat(peers.status()).as(peers.err()).isZero();
    assertThat(peers.out()).startsWith("node a");
  }

  @Test
  void failures_printTheReason_andExitNonZero() {
    Run missing = admin("object", "Item", "not-a-uuid");
    assertThat(missing.status()).isEqualTo(1);
    assertThat(missing.err().strip()).isEqualTo("error: INVALID_ARGUMENT: 'not-a-uuid' is not an id of Item; expected a UUID (ListObjects, the CLI's objects command, lists ids)");

    Run anonymous = run("peers", "--target", target, "--plaintext");
    assertThat(anonymous.status()).isEqualTo(1);
    assertThat(anonymous.err()).startsWith("error: UNAUTHENTICATED: admin calls to node 'a' need credentials");

    Run wrong = run("peers", "--target", target, "--plaintext", "--token", "not-the-token-at-all");
    assertThat(wrong.err().strip()).isEqualTo("error: PERMISSION_DENIED: the admin token presented to node 'a' is not the one configured");

    Run usage = run("peers");
    assertThat(usage.status()).isEqualTo(2);
    assertThat(usage.err()).contains("Missing required option: '--target=<target>'");

    Run both = run("peers", "--target", target, "--plaintext", "--token", TOKEN, "--token-file", "x");
    assertThat(both.status()).isEqualTo(2);
    assertThat(both.err()).startsWith("--token and --token-file are alternatives; give one\n").contains("Usage: entanglement peers");

    Path missingFile = dir.resolve("missing.token");
    Run unreadable = run("peers", "--target", target, "--plaintext", "--token-file", missingFile.toString());
    assertThat(unreadable.status()).isEqualTo(2);
    assertThat(unreadable.err()).startsWith("--token-file '%s' cannot be read".formatted(missingFile))
        .contains("expected a file holding the node's admin token");

    Run unknownPeer = admin("peer", "pause", "zed");
    assertThat(unknownPeer.status()).isEqualTo(1);
    assertThat(unknownPeer.err().strip()).isEqualTo("error: NOT_FOUND: node 'a' has no open stream with a peer named 'zed'; connected: [b]");

    Run nobody = run("peers", "--target", "127.0.0.1:1", "--plaintext", "--token", TOKEN, "--timeout", "5");
    assertThat(nobody.status()).isEqualTo(1);
    assertThat(nobody.err()).startsWith("error: UNAVAILABLE: the admin API could not be reached");
  }

  @Test
  void overMutualTls_withAnAdminCertificate() throws Exception {
    Certificates certificates = new Certificates(dir);
    Path operator = certificates.node("operator", "main");
    try (TestNode secure = certificates.tls(TestNode.builder("s", Database.H2, Item.class)
            .set(EntanglementSettings.LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0")
            .set(EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS, certificates.fingerprint("operator", "main")),
        "s", "main", "main").start()) {
      String secureTarget = secure.entanglement().adminAddress().orElseThrow();
      String ca = certificates.ca("main").resolve(DevCertificates.CERTIFICATE).toString();
      Run peers = run("peers", "--target", secureTarget, "--tls-trust", ca, "--server-name", "s",
          "--tls-cert", operator.resolve(DevCertificates.CERTIFICATE).toString(),
          "--tls-key", operator.resolve(DevCertificates.PRIVATE_KEY).toString());
      assertThat(peers.status()).as(peers.err()).isZero();
      assertThat(peers.out().lines().toList().get(0)).startsWith("node s (member ");
      assertThat(peers.out().lines().toList()).contains("(none)");

      Run anonymous = run("peers", "--target", secureTarget, "--tls-trust", ca, "--server-name", "s");
      assertThat(anonymous.status()).isEqualTo(1);
      assertThat(anonymous.err()).startsWith("error: UNAUTHENTICATED: admin calls to node 's' need credentials");

      Run halfPair = run("peers", "--target", secureTarget, "--tls-trust", ca, "--tls-cert", "x.pem");
      assertThat(halfPair.status()).isEqualTo(2);
      assertThat(halfPair.err()).startsWith("--tls-cert and --tls-key go together\n");
    }
  }

  /** Each TLS mistake a newcomer makes is named with the option that fixes it, in one line. */
  @Test
  void tlsMistakes_sayTheirCauseAndTheOptionThatFixesIt() throws Exception {
    Certificates certificates = new Certificates(dir);
    Path operator = certificates.node("operator", "main");
    try (TestNode secure = certificates.tls(TestNode.builder("s", Database.H2, Item.class)
            .set(EntanglementSettings.LISTEN, "127.0.0.1:0").set(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0")
            .set(EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS, certificates.fingerprint("operator", "main")),
        "s", "main", "main").start()) {
      String secureTarget = secure.entanglement().adminAddress().orElseThrow();
      String ca = certificates.ca("main").resolve(DevCertificates.CERTIFICATE).toString();
      String cert = operator.resolve(DevCertificates.CERTIFICATE).toString();
      String key = operator.resolve(DevCertificates.PRIVATE_KEY).toString();

      Run noServerName = run("peers", "--target", secureTarget, "--tls-trust", ca, "--tls-cert", cert, "--tls-key", key);
      assertThat(noServerName.status()).isEqualTo(1);
      assertThat(noServerName.err().strip()).isEqualTo(("error: the node's certificate is not issued to '127.0.0.1': give "
          + "--server-name with the node name its certificate holds (a node's certificate names the node)"));

      Run wrongServerName = run("peers", "--target", secureTarget, "--tls-trust", ca, "--server-name", "zed",
          "--tls-cert", cert, "--tls-key", key);
      assertThat(wrongServerName.err().strip()).isEqualTo(("error: the node's certificate is not issued to 'zed': give "
          + "--server-name with the node name its certificate holds (a node's certificate names the node)"));

      Run noTrust = run("peers", "--target", secureTarget, "--server-name", "s", "--tls-cert", cert, "--tls-key", key);
      assertThat(noTrust.err().strip()).isEqualTo("error: the node's certificate is not signed by a CA this command "
          + "trusts: give --tls-trust with the PEM file of the CA that signed it");

      Run plaintextToTls = run("peers", "--target", secureTarget, "--plaintext", "--token", TOKEN);
      assertThat(plaintextToTls.err().strip()).isEqualTo("error: the node requires mutual TLS and this command spoke "
          + "plaintext: leave out --plaintext, and give --tls-trust (the CA of the node's certificate) with --tls-cert and --tls-key");
    }
    Run tlsToPlaintext = run("peers", "--target", target, "--token", TOKEN);
    assertThat(tlsToPlaintext.status()).isEqualTo(1);
    assertThat(tlsToPlaintext.err().strip()).isEqualTo("error: the node answered in plaintext (its admin API has no TLS): "
        + "give --plaintext");
  }

  /** Run as a process: an unknown host is one line on stderr, not grpc's stack traces. */
  @Test
  void anUnknownHost_isOneLine_asAProcess() throws Exception {
    Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), EntanglementCli.class.getName(), "peers", "--target",
        "no-such-host.invalid:9090", "--plaintext", "--token", TOKEN, "--timeout", "10").start();
    String out = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    String err = new String(process.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(process.exitValue()).isEqualTo(1);
    assertThat(out).isEmpty();
    // (the test classpath also holds SLF4J without a binding, which prints its own notice; the CLI's jar does not)
    assertThat(err.lines().filter(line -> !line.startsWith("SLF4J: ")).toList()).as(err).containsExactly(
        "error: UNAVAILABLE: the admin API could not be reached (unknown host 'no-such-host.invalid' in --target)");
  }

  @Test
  void json_showsQuotesAsTheyAre_andKeepsEscapedBackslashes() {
    assertThat(EntanglementCli.readable("{\"m\": \"peer \\u0027b\\u0027 \\u003c\\u003e\\u003d\\u0026\"}"))
        .isEqualTo("{\"m\": \"peer 'b' <>=&\"}");
    assertThat(EntanglementCli.readable("\"a\\\\u0027\"")).as("an escaped backslash followed by text").isEqualTo("\"a\\\\u0027\"");
  }

  @Test
  void certificateCommands() throws Exception {
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
