package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.BrowserClient;
import dev.entanglement.hibernate.testing.Certificates;
import dev.entanglement.hibernate.tls.DevCertificates;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.TokenIdentity;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.RequestStatus;
import dev.entanglement.proto.v1.UpdateRequest;
import dev.entanglement.proto.v1.Value;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Browsers as peers over the WebSocket endpoint (entanglement.web.listen), with real nodes on H2
 * and the JDK's WebSocket client as the browser: {@code hq} serves browsers and holds the objects
 * of the nodes {@code red} and {@code blue} (which dial it); the exercise's rules say a team sees
 * only its own objects (and hq's), and a browser belongs to the team its name starts with.
 */
class BrowserPeerIntegrationTest {
  private static final Set<String> TEAMS = Set.of("red", "blue");
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private TestNode hq;
  private TestNode red;
  private TestNode blue;
  private String web;

  /** The exercise's rules, with browsers in the team before the first '.' of their name. */
  static final class TeamPolicy implements Policy {
    static String team(String name) {
      int dot = name.indexOf('.');
      return dot < 0 ? name : name.substring(0, dot);
    }

    @Override
    public Decision send(Peer peer, ObjectRef object) {
      String team = team(peer.name());
      return Decision.denyIf(TEAMS.contains(team) && TEAMS.contains(object.owner()) && !team.equals(object.owner()),
          "objects of team '%s' are not shared with team '%s'".formatted(object.owner(), team));
    }

    @Override
    public Decision receiveMessage(Peer peer, IncomingMessage message) {
      String team = team(message.isRequest() ? message.origin() : peer.name());
      return Decision.denyIf(TEAMS.contains(team) && TEAMS.contains(message.owner()) && !team.equals(message.owner()),
          "team '%s' may not change objects of team '%s'".formatted(team, message.owner()));
    }
  }

  @BeforeEach
  void nodes() {
    String unique = UUID.randomUUID().toString();
    hq = track(TestNode.builder("hq", Database.H2, Item.class)
        .listenInProcess("hq-" + unique)
        .set(EntanglementSettings.POLICY, new TeamPolicy())
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, new TokenIdentity())
        .set(EntanglementSettings.PEER_MAX_MESSAGE_BYTES, 65_536)
        .start());
    red = track(TestNode.builder("red", Database.H2, Item.class).peers("inprocess:hq-" + unique)
        .set(EntanglementSettings.POLICY, new TeamPolicy()).start());
    blue = track(TestNode.builder("blue", Database.H2, Item.class).peers("inprocess:hq-" + unique)
        .set(EntanglementSettings.POLICY, new TeamPolicy()).start());
    hq.awaitConnected("red");
    hq.awaitConnected("blue");
    web = hq.entanglement().webAddress().orElseThrow();
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

  private Item persist(TestNode node, String code, String name) {
    Item item = new Item(code, name, 1);
    node.inTransaction(em -> em.persist(item));
    return item;
  }

  private void awaitAtHq(Item... items) {
    for (Item item : items) {
      await().atMost(Duration.ofSeconds(20)).until(() -> hq.find(Item.class, item.getId()) != null);
    }
  }

  private static List<Change> changes(BrowserClient browser) {
    return browser.received().stream().filter(Envelope::hasChanges)
        .flatMap(e -> e.getChanges().getChangesList().stream()).toList();
  }

  private static Set<String> ids(BrowserClient browser) {
    return changes(browser).stream().filter(c -> !c.getEphemeral()).map(c -> c.getId().getUuid()).collect(Collectors.toSet());
  }

  private static Value uuid(UUID id) {
    return Value.newBuilder().setUuid(id.toString()).build();
  }

  private static Attribute text(String name, String value) {
    return Attribute.newBuilder().setName(name).setValue(Value.newBuilder().setText(value)).build();
  }

  @Test
  void anUpgradeWithoutAnAdmittedIdentityIsRefusedBeforeTheUpgradeWithTheReason() throws Exception {
    BrowserClient.Refusal none = BrowserClient.upgradeRefused(web, "/entanglement");
    assertThat(none.status()).isEqualTo(401);
    assertThat(none.body()).contains("no token: connect with ?token=...");

    BrowserClient.Refusal unknown = BrowserClient.upgradeRefused(web, "/entanglement?token=mallory");
    assertThat(unknown.status()).isEqualTo(403);
    assertThat(unknown.body()).contains("unknown token");

    try (BrowserClient admitted = BrowserClient.connect(web, "/entanglement?token=alice-secret")) {
      admitted.hello(Map.of());
      admitted.await(Envelope::hasHello);
    }

    // a node with the endpoint but no identity refuses every browser, naming the missing setting
    try (TestNode lonely = TestNode.builder("lonely", Database.H2, Item.class)
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0").start()) {
      BrowserClient.Refusal refused = BrowserClient.upgradeRefused(lonely.entanglement().webAddress().orElseThrow(),
          "/entanglement?token=alice-secret");
      assertThat(refused.status()).isEqualTo(403);
      assertThat(refused.body()).contains("entanglement.web.identity");
    }
  }

  @Test
  void aPlainGetOnTheEndpointAnswersWhatTheUpgradeWouldGetForScriptsThatCannotSeeARefusedUpgrade() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    Function<HttpRequest.Builder, HttpResponse<String>> get = request -> http.sendAsync(request.build(),
        HttpResponse.BodyHandlers.ofString()).orTimeout(20, TimeUnit.SECONDS).join();
    String endpoint = "http://" + web + "/entanglement";

    HttpResponse<String> none = get.apply(HttpRequest.newBuilder(URI.create(endpoint)));
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.body()).isEqualTo("no token: connect with ?token=...\n");
    assertThat(none.headers().firstValue("content-type")).contains("text/plain; charset=utf-8");

    HttpResponse<String> unknown = get.apply(HttpRequest.newBuilder(URI.create(endpoint + "?token=mallory")));
    assertThat(unknown.statusCode()).isEqualTo(403);
    assertThat(unknown.body()).isEqualTo("unknown token\n");

    HttpResponse<String> admitted = get.apply(HttpRequest.newBuilder(URI.create(endpoint + "?token=alice-secret&tab=t9")));
    assertThat(admitted.statusCode()).isEqualTo(426);
    assertThat(admitted.body()).isEqualTo("admitted as red.alice.t9; connect with a WebSocket\n");
    assertThat(admitted.headers().firstValue("upgrade")).contains("websocket");
    assertThat(hq.entanglement().connectedPeers()).doesNotContain("red.alice.t9"); // nothing was opened

    // the same identity call: a cookie, as a page's fetch with credentials sends it, and the page's
    // origin may read the answer (the identity sees the Origin header, as it does on the upgrade)
    HttpResponse<String> byCookie = get.apply(HttpRequest.newBuilder(URI.create(endpoint))
        .header("Cookie", "token=bob-secret").header("Origin", "http://board.example:8080"));
    assertThat(byCookie.statusCode()).isEqualTo(426);
    assertThat(byCookie.body()).isEqualTo("admitted as blue.bob; connect with a WebSocket\n");
    assertThat(byCookie.headers().firstValue("access-control-allow-origin")).contains("http://board.example:8080");
    assertThat(byCookie.headers().firstValue("access-control-allow-credentials")).contains("true");

    // other methods are not asked
    HttpResponse<String> post = get.apply(HttpRequest.newBuilder(URI.create(endpoint + "?token=alice-secret"))
        .POST(HttpRequest.BodyPublishers.noBody()));
    assertThat(post.statusCode()).isEqualTo(426);
    assertThat(post.body()).contains("serves browser peers over WebSocket only");

    // bounded as the upgrade is: a request over 16 KiB is refused before the identity is asked
    HttpResponse<String> huge = get.apply(HttpRequest.newBuilder(URI.create(endpoint + "?token=alice-secret"))
        .header("X-Padding", "x".repeat(20_000)));
    assertThat(huge.statusCode()).isIn(400, 413, 431);
  }

  @Test
  void aRedBrowserReceivesRedAndSharedObjectsButNothingOfBlue() {
    Item redMachine = persist(red, "red-vm-1", "red web server");
    Item blueMachine = persist(blue, "blue-vm-1", "blue mail server");
    Item board = persist(hq, "hq-board", "exercise board");
    awaitAtHq(redMachine, blueMachine, board);

    try (BrowserClient alice = track(BrowserClient.connect(web, "/entanglement?token=alice-secret&tab=t1"))) {
      alice.hello(Map.of());
      Envelope hello = alice.await(Envelope::hasHello);
      assertThat(hello.getHello().getNodeName()).isEqualTo("hq");
      await().atMost(Duration.ofSeconds(20))
          .until(() -> ids(alice).containsAll(Set.of(redMachine.getId().toString(), board.getId().toString())));
      hq.awaitCaughtUp("red.alice.t1");

      assertThat(ids(alice)).containsExactlyInAnyOrder(redMachine.getId().toString(), board.getId().toString());
      // nothing on the wire names blue's object, nor blue as an owner (the node's Hello lists no owners to a browser)
      String wire = alice.received().toString();
      assertThat(wire).doesNotContain(blueMachine.getId().toString()).doesNotContain("blue-vm-1").doesNotContain("\"blue\"");
      assertThat(hello.getHello().getOwnersList()).isEmpty();
      PeerStatus status = hq.status("red.alice.t1");
      assertThat(status.identity()).isEqualTo(PeerIdentity.unverified("red.alice.t1"));
      assertThat(hq.entanglement().policyDenials()).anySatisfy(denial -> {
        assertThat(denial.peer()).isEqualTo("red.alice.t1");
        assertThat(denial.lastReason()).isEqualTo("objects of team 'blue' are not shared with team 'red'");
      });
    }
  }

  @Test
  void theNodesHelloTellsEachBrowserThePeerNameItsIdentityGaveIt() {
    try (BrowserClient tab = track(BrowserClient.connect(web, "/entanglement?token=alice-secret&tab=t7"));
        BrowserClient plain = track(BrowserClient.connect(web, "/entanglement?token=bob-secret"))) {
      tab.hello(Map.of());
      plain.hello(Map.of());
      assertThat(tab.await(Envelope::hasHello).getHello().getPeerName()).isEqualTo("red.alice.t7");
      assertThat(plain.await(Envelope::hasHello).getHello().getPeerName()).isEqualTo("blue.bob");
    }
  }

  @Test
  void anUpdateRequestFromTheBrowserReachesTheOwnerAndTheBrowserGetsTheTypedOutcome() {
    Item redMachine = persist(red, "red-vm-1", "red web server");
    Item blueMachine = persist(blue, "blue-vm-1", "blue mail server");
    awaitAtHq(redMachine, blueMachine);

    try (BrowserClient alice = track(BrowserClient.connect(web, "/entanglement?token=alice-secret"))) {
      alice.hello(Map.of());
      await().atMost(Duration.ofSeconds(20)).until(() -> ids(alice).contains(redMachine.getId().toString()));

      alice.send(Envelope.newBuilder().setUpdateRequest(UpdateRequest.newBuilder().setRequestId(1)
          .setKind(RequestKind.UPDATE).setEntity("Item").setId(uuid(redMachine.getId())).setOwner("red")
          .addAttributes(text("name", "patched from alice's tab")).setRequestKey(UUID.randomUUID().toString())).build());
      RequestOutcome done = alice.await(e -> e.hasRequestOutcome() && e.getRequestOutcome().getRequestId() == 1)
          .getRequestOutcome();
      assertThat(done.getStatus()).as(done.getMessage()).isEqualTo(RequestStatus.DONE);
      assertThat(red.find(Item.class, redMachine.getId()).getName()).isEqualTo("patched from alice's tab");
      // the owner's result reaches the tab as an ordinary change of red's
      alice.await(e -> e.hasChanges() && e.getChanges().getChangesList().stream().anyMatch(c ->
          c.getOwner().equals("red") && c.getSerial() == done.getSerial()));

      // a request for blue's object (alice guessed its id) is refused by hq's policy, with the reason
      alice.send(Envelope.newBuilder().setUpdateRequest(UpdateRequest.newBuilder().setRequestId(2)
          .setKind(RequestKind.UPDATE).setEntity("Item").setId(uuid(blueMachine.getId())).setOwner("blue")
          .addAttributes(text("name", "taken over")).setRequestKey(UUID.randomUUID().toString())).build());
      RequestOutcome refused = alice.await(e -> e.hasRequestOutcome() && e.getRequestOutcome().getRequestId() == 2)
          .getRequestOutcome();
      assertThat(refused.getStatus()).isEqualTo(RequestStatus.REFUSED);
      assertThat(refused.getMessage()).contains("team 'red' may not change objects of team 'blue'");
      assertThat(blue.find(Item.class, blueMachine.getId()).getName()).isEqualTo("blue mail server");
    }
  }

  @Test
  void aBrowserThatSendsAnEntityChangeAsItsOwnerIsRefusedWithTheReasonAndTheNodeGoesOn() {
    try (BrowserClient alice = track(BrowserClient.connect(web, "/entanglement?token=alice-secret"))) {
      alice.hello(Map.of());
      alice.await(Envelope::hasHello);
      UUID forged = UUID.randomUUID();
      alice.send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(7)
          .addChanges(Change.newBuilder().setEntity("Item").setId(uuid(forged)).setOwner("red.alice").setSerial(1)
              .setOperation(Operation.UPSERT).addAttributes(text("code", "forged")).addAttributes(text("name", "mine")))
          .addChanges(Change.newBuilder().setEntity("Item").setId(uuid(UUID.randomUUID())).setOwner("red").setSerial(99)
              .setOperation(Operation.UPSERT).addAttributes(text("code", "forged-2"))))
          .build());
      List<Outcome> outcomes = alice.await(e -> e.hasAck() && e.getAck().getRequestId() == 7).getAck().getOutcomesList();
      assertThat(outcomes).hasSize(2).allSatisfy(outcome -> {
        assertThat(outcome.getStatus()).isEqualTo(OutcomeStatus.REJECTED);
        assertThat(outcome.getReason()).isEqualTo(RejectReason.NOT_OWNER);
        assertThat(outcome.getMessage()).contains("browsers own nothing persistent");
      });
      assertThat(hq.find(Item.class, forged)).isNull();
      assertThat(hq.all(Item.class)).isEmpty();

      // the node goes on: the tab still receives, other peers still replicate
      Item after = persist(red, "red-vm-2", "after the forgery");
      await().atMost(Duration.ofSeconds(20)).until(() -> ids(alice).contains(after.getId().toString()));
      assertThat(alice.closed()).isNotDone();
    }
  }

  @Test
  void aBrowserThatStopsReadingCostsBoundedMemoryWhileOthersKeepReceiving() throws Exception {
    int objects = 20;
    String bulk = "x".repeat(200);
    List<Item> items = new ArrayList<>();
    for (int i = 0; i < objects; i++) {
      items.add(persist(hq, "hq-" + i, "v0 " + bulk));
    }
    BrowserClient frozen = track(BrowserClient.connect(web, "/entanglement?token=bob-secret&tab=frozen"));
    BrowserClient live = track(BrowserClient.connect(web, "/entanglement?token=alice-secret&tab=live"));
    frozen.hello(Map.of());
    live.hello(Map.of());
    await().atMost(Duration.ofSeconds(20)).until(() -> ids(frozen).size() == objects && ids(live).size() == objects);
    frozen.stopReading();

    int rounds = 60;
    for (int round = 1; round <= rounds; round++) {
      String name = "v" + round + " " + bulk;
      hq.inTransaction(em -> {
        for (Item item : items) {
          em.find(Item.class, item.getId()).setName(name);
        }
      });
    }
    // the live tab converges on the last state of every object
    String last = "v" + rounds + " " + bulk;
    await().atMost(Duration.ofSeconds(60)).until(() -> changes(live).stream()
        .filter(c -> c.getAttributesList().stream().anyMatch(a -> a.getValue().getText().equals(last)))
        .map(c -> c.getId().getUuid()).collect(Collectors.toSet()).size() == objects);
    // the frozen tab's outbox holds at most one state per object: the updates coalesced
    PeerStatus stalled = hq.status("blue.bob.frozen");
    assertThat(stalled.outboxDepth()).isLessThanOrEqualTo(objects);
    assertThat(stalled.coalesced()).isPositive();
    assertThat(stalled.changesSent()).isLessThan((long) objects * rounds);
    assertThat(frozen.closed()).isNotDone();
  }

  @Test
  void aBrowserThatReconnectsWithItsPositionsReceivesOnlyWhatChangedSince() {
    List<Item> items = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      items.add(persist(red, "red-" + i, "first"));
    }
    awaitAtHq(items.toArray(Item[]::new));
    Map<String, Long> held;
    try (BrowserClient first = BrowserClient.connect(web, "/entanglement?token=alice-secret")) {
      first.hello(Map.of());
      await().atMost(Duration.ofSeconds(20)).until(() -> ids(first).size() == 5);
      hq.awaitCaughtUp("red.alice");
      // the tab holds red's objects complete through the newest state it received once a position says so
      long newest = changes(first).stream().filter(c -> c.getOwner().equals("red")).mapToLong(Change::getSerial).max()
          .orElseThrow();
      await().atMost(Duration.ofSeconds(20)).until(() -> first.positions().getOrDefault("red", 0L) >= newest);
      held = first.positions();
    }
    assertThat(held).containsKey("red");
    await().atMost(Duration.ofSeconds(20)).until(() -> !hq.entanglement().connectedPeers().contains("red.alice"));

    red.inTransaction(em -> em.find(Item.class, items.get(2).getId()).setName("second"));
    Item added = persist(red, "red-new", "added while away");
    awaitAtHq(added);
    await().atMost(Duration.ofSeconds(20)).until(() -> "second".equals(hq.find(Item.class, items.get(2).getId()).getName()));

    try (BrowserClient again = track(BrowserClient.connect(web, "/entanglement?token=alice-secret"))) {
      again.hello(held);
      await().atMost(Duration.ofSeconds(20)).until(() -> ids(again).size() >= 2);
      hq.awaitCaughtUp("red.alice");
      assertThat(ids(again)).containsExactlyInAnyOrder(items.get(2).getId().toString(), added.getId().toString());
    }
  }

  @Test
  void aBrowserNeverTakesTheNameOfANode() {
    // the application's identity gave a browser the name of a connected node
    BrowserClient impostor = track(BrowserClient.connect(web, "/entanglement?token=impostor"));
    impostor.hello(Map.of());
    BrowserClient.Closed closed = impostor.closed().orTimeout(20, TimeUnit.SECONDS).join();
    assertThat(closed.code()).isEqualTo(1008);
    assertThat(closed.reason()).contains("already has a peer node named 'red'; a browser may not use that name");
    assertThat(hq.status("red")).isNotNull();
    assertThat(hq.status("red").identity()).isEqualTo(PeerIdentity.unverified("red"));
  }

  @Test
  void framesTooLargeOrUnreadableEndTheConnectionWithAClearCloseReason() {
    BrowserClient large = track(BrowserClient.connect(web, "/entanglement?token=alice-secret&tab=large"));
    large.hello(Map.of());
    large.await(Envelope::hasHello);
    large.sendBytes(new byte[70_000]);
    BrowserClient.Closed tooLarge = large.closed().orTimeout(20, TimeUnit.SECONDS).join();
    assertThat(tooLarge.code()).isEqualTo(1009);
    assertThat(tooLarge.reason()).startsWith("RESOURCE_EXHAUSTED: peer 'red.alice.large' sent a message of more than "
        + "65536 bytes (entanglement.peer.max_message_bytes)");

    BrowserClient garbage = track(BrowserClient.connect(web, "/entanglement?token=alice-secret&tab=garbage"));
    garbage.hello(Map.of());
    garbage.await(Envelope::hasHello);
    garbage.sendBytes(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff});
    BrowserClient.Closed unreadable = garbage.closed().orTimeout(20, TimeUnit.SECONDS).join();
    assertThat(unreadable.code()).isEqualTo(1007);
    assertThat(unreadable.reason()).startsWith("INVALID_ARGUMENT: peer 'red.alice.garbage' sent a message that is not a "
        + "valid Envelope");

    BrowserClient text = track(BrowserClient.connect(web, "/entanglement?token=alice-secret&tab=text"));
    text.sendText("{\"hello\": {}}");
    BrowserClient.Closed textFrame = text.closed().orTimeout(20, TimeUnit.SECONDS).join();
    assertThat(textFrame.code()).isEqualTo(1007);
    assertThat(textFrame.reason()).contains("a text frame; envelopes travel one per binary frame");

    // the node goes on with its other peers and browsers
    try (BrowserClient after = track(BrowserClient.connect(web, "/entanglement?token=alice-secret&tab=after"))) {
      after.hello(Map.of());
      after.await(Envelope::hasHello);
    }
    assertThat(hq.status("red")).isNotNull();
  }

  @Test
  void badBrowserSettingsAreRefusedAtBootNamingTheSetting() {
    assertThatThrownBy(() -> TestNode.builder("exposed", Database.H2, Item.class)
        .set(EntanglementSettings.WEB_LISTEN, "0.0.0.0:0").start())
        .hasStackTraceContaining("Setting entanglement.web.listen has the invalid value '0.0.0.0:0'; expected a loopback "
            + "address, or mutual TLS");
    assertThatThrownBy(() -> TestNode.builder("inproc", Database.H2, Item.class)
        .set(EntanglementSettings.WEB_LISTEN, "inprocess:web").start())
        .hasStackTraceContaining("Setting entanglement.web.listen has the invalid value 'inprocess:web'; expected host:port");
    assertThatThrownBy(() -> TestNode.builder("noclass", Database.H2, Item.class)
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, "com.example.NoSuchIdentity").start())
        .hasStackTraceContaining("Setting entanglement.web.identity names the class 'com.example.NoSuchIdentity', which "
            + "cannot be loaded");
    assertThatThrownBy(() -> TestNode.builder("notidentity", Database.H2, Item.class)
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, String.class.getName()).start())
        .hasStackTraceContaining("which does not implement dev.entanglement.hibernate.web.BrowserIdentity");
    // an identity class by name, made with its no-argument constructor
    try (TestNode named = TestNode.builder("named", Database.H2, Item.class)
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, TokenIdentity.class.getName()).start();
        BrowserClient alice = BrowserClient.connect(named.entanglement().webAddress().orElseThrow(),
            "/entanglement?token=alice-secret")) {
      alice.hello(Map.of());
      alice.await(Envelope::hasHello);
    }
  }

  @Test
  void withMutualTlsConfiguredBrowsersConnectOverWssWithTheNodesCertificate(@TempDir Path certificates) throws Exception {
    Certificates issued = new Certificates(certificates);
    try (TestNode secure = issued.tls(TestNode.builder("secure", Database.H2, Item.class)
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, new TokenIdentity()), "secure", "exercise", "exercise").start()) {
      int port = Integer.parseInt(secure.entanglement().webAddress().orElseThrow().split(":")[1]);
      // plaintext is not served
      assertThatThrownBy(() -> BrowserClient.upgradeRefused("127.0.0.1:" + port, "/entanglement?token=alice-secret"))
          .isInstanceOf(Exception.class);
      try (BrowserClient alice = BrowserClient.connectSecure("localhost:" + port, "/entanglement?token=alice-secret",
          trusting(issued.ca("exercise").resolve(DevCertificates.CERTIFICATE)))) {
        alice.hello(Map.of());
        assertThat(alice.await(Envelope::hasHello).getHello().getNodeName()).isEqualTo("secure");
      }
    }
  }

  /** A presence, as a browser tab shows who is online. */
  public record Presence(String user, String status) {}

  @Test
  void aBrowserOwnsItsOwnEphemeralObjectsWhileItIsConnected() {
    EphemeralObjects<Presence> presence = hq.entanglement().ephemeral(Presence.class);
    BrowserClient bob = track(BrowserClient.connect(web, "/entanglement?token=bob-secret"));
    bob.hello(Map.of());
    bob.await(Envelope::hasHello);
    try (BrowserClient alice = BrowserClient.connect(web, "/entanglement?token=alice-secret")) {
      alice.hello(Map.of());
      alice.await(Envelope::hasHello);
      alice.send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(1)
          .addChanges(Change.newBuilder().setEphemeral(true).setEntity("Presence")
              .setId(Value.newBuilder().setText("alice")).setOwner("red.alice").setEpoch(1).setSerial(1)
              .setOperation(Operation.UPSERT).addAttributes(text("user", "alice")).addAttributes(text("status", "online"))))
          .build());
      Outcome outcome = alice.await(e -> e.hasAck() && e.getAck().getRequestId() == 1).getAck().getOutcomes(0);
      assertThat(outcome.getStatus()).as(outcome.getMessage()).isEqualTo(OutcomeStatus.APPLIED);
      assertThat(presence.get("alice")).contains(new Presence("alice", "online"));
      assertThat(presence.ownerOf("alice")).contains("red.alice");
      // another tab sees it as any peer's ephemeral object
      bob.await(e -> e.hasChanges() && e.getChanges().getChangesList().stream()
          .anyMatch(c -> c.getEphemeral() && c.getOwner().equals("red.alice")));
    }
    // gone with its tab
    await().atMost(Duration.ofSeconds(20)).until(() -> presence.get("alice").isEmpty());
  }

  /** A TLS context trusting the CA certificate in {@code pem}. */
  private static SSLContext trusting(Path pem) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    try (var in = Files.newInputStream(pem)) {
      store.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(store);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, trust.getTrustManagers(), null);
    return context;
  }
}
