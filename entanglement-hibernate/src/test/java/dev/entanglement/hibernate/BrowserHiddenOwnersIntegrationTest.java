package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.BrowserPeerIntegrationTest.Presence;
import dev.entanglement.hibernate.BrowserPeerIntegrationTest.TeamPolicy;
import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.hibernate.policy.Peer;
import dev.entanglement.hibernate.policy.Policy;
import dev.entanglement.hibernate.testing.BrowserClient;
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
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import dev.entanglement.proto.v1.Value;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A red user's tab never learns that blue exists: no frame the node sends it names blue (nor a
 * blue browser), nor carries an id of blue's objects, through every kind of message a browser
 * receives: the catch-up and its markers, live batches and their positions, a full
 * synchronization after a policy change, transitions blue (and a blue tab) start on a shared
 * object, ephemeral objects of a blue tab, the outcome of a request for a blue object whose id the
 * tab guessed, the answer to an ephemeral put on an id a blue tab owns, and an owner removal of
 * blue. Real nodes on H2, a real WebSocket; every frame is read off the wire.
 */
class BrowserHiddenOwnersIntegrationTest {
  private final List<AutoCloseable> closeables = new ArrayList<>();

  /** The exercise's rules, with browsers (and their ephemeral objects) in the team before the first '.'. */
  static final class TeamRules implements Policy {
    private static final Set<String> TEAMS = Set.of("red", "blue");

    private static boolean otherTeam(String peer, String owner) {
      String team = TeamPolicy.team(peer);
      String owning = TeamPolicy.team(owner);
      return TEAMS.contains(team) && TEAMS.contains(owning) && !team.equals(owning);
    }

    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(otherTeam(peer.name(), object.owner()), "objects of another team are not shared");
    }

    @Override
    public Decision receiveMessage(Peer peer, IncomingMessage message) {
      String from = message.isRequest() ? message.origin() : peer.name();
      return Decision.denyIf(otherTeam(from, message.owner()),
          "team '%s' may not change objects of team '%s'".formatted(TeamPolicy.team(from), TeamPolicy.team(message.owner())));
    }
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

  private static Item persist(TestNode node, String code, String name) {
    Item item = new Item(code, name, 1);
    node.inTransaction(em -> em.persist(item));
    return item;
  }

  private static Value uuid(UUID id) {
    return Value.newBuilder().setUuid(id.toString()).build();
  }

  private static Attribute text(String name, String value) {
    return Attribute.newBuilder().setName(name).setValue(Value.newBuilder().setText(value)).build();
  }

  private static boolean holds(BrowserClient browser, UUID id) {
    return browser.received().stream().filter(Envelope::hasChanges).flatMap(e -> e.getChanges().getChangesList().stream())
        .anyMatch(c -> c.getId().getUuid().equals(id.toString()));
  }

  @Test
  void noFrameToARedTabNamesBlueOrCarriesBluesIds() {
    String unique = UUID.randomUUID().toString();
    TestNode hq = track(TestNode.builder("hq", Database.H2, Item.class)
        .listenInProcess("hq-" + unique)
        .set(EntanglementSettings.POLICY, new TeamRules())
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, new TokenIdentity())
        .start());
    TestNode red = track(TestNode.builder("red", Database.H2, Item.class).peers("inprocess:hq-" + unique)
        .set(EntanglementSettings.POLICY, new TeamRules()).start());
    TestNode blue = track(TestNode.builder("blue", Database.H2, Item.class).peers("inprocess:hq-" + unique)
        .set(EntanglementSettings.POLICY, new TeamRules()).start());
    hq.awaitConnected("red");
    hq.awaitConnected("blue");
    EphemeralObjects<Presence> presence = hq.entanglement().ephemeral(Presence.class);
    String web = hq.entanglement().webAddress().orElseThrow();

    // before the red tab connects: blue's objects (one deleted: a tombstone), red's, and a shared board
    Item blueKept = persist(blue, "blue-vm-1", "blue mail server");
    Item blueDeleted = persist(blue, "blue-vm-2", "blue file server");
    blue.inTransaction(em -> em.remove(em.find(Item.class, blueDeleted.getId())));
    Item redItem = persist(red, "red-vm-1", "red web server");
    Item board = persist(hq, "hq-board", "exercise board");
    await().atMost(Duration.ofSeconds(20)).until(() -> hq.find(Item.class, blueKept.getId()) != null
        && hq.find(Item.class, redItem.getId()) != null && blue.find(Item.class, board.getId()) != null);
    blue.awaitCaughtUp("hq");

    BrowserClient alice = track(BrowserClient.connect(web, "/entanglement?token=alice-secret"));
    alice.hello(Map.of());
    await().atMost(Duration.ofSeconds(20)).until(() -> holds(alice, redItem.getId()) && holds(alice, board.getId()));

    // live: blue changes, and a blue tab comes online with a presence
    Item blueLive = persist(blue, "blue-vm-3", "blue backup server");
    blue.inTransaction(em -> em.find(Item.class, blueKept.getId()).setName("blue mail server, patched"));
    BrowserClient bob = track(BrowserClient.connect(web, "/entanglement?token=bob-secret&tab=b1"));
    bob.hello(Map.of());
    bob.await(Envelope::hasHello);
    String bobsSlot = "slot-" + UUID.randomUUID();
    bob.send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(1)
        .addChanges(Change.newBuilder().setEphemeral(true).setEntity("Presence").setId(Value.newBuilder().setText(bobsSlot))
            .setOwner("blue.bob.b1").setEpoch(1).setSerial(1).setOperation(Operation.UPSERT)
            .addAttributes(text("user", "bob")).addAttributes(text("status", "online")))).build());
    bob.await(e -> e.hasAck() && e.getAck().getRequestId() == 1);
    await().atMost(Duration.ofSeconds(20)).until(() -> presence.get(bobsSlot).isPresent());

    // blue and the blue tab drag the shared board: its provisional state is the red tab's to see, not who drags it
    blue.entanglement().startTransition(Item.class, board.getId()).update(item -> item.setName("board, dragged"));
    await().atMost(Duration.ofSeconds(20)).until(() -> alice.received().stream().anyMatch(Envelope::hasTransition));
    long boardSerial = hq.entanglement().describe(Item.class, board.getId()).orElseThrow().serial();
    bob.send(Envelope.newBuilder().setTransition(TransitionUpdate.newBuilder().setTransitionId(7).setSequence(1)
        .setEntity("Item").setId(uuid(board.getId())).setOwner("hq").setBaseSerial(boardSerial)
        .setPhase(dev.entanglement.proto.v1.TransitionPhase.PROVISIONAL).addAttributes(text("name", "board, dragged by a tab")))
        .build());
    await().atMost(Duration.ofSeconds(20)).until(() -> alice.received().stream().filter(Envelope::hasTransition).count() >= 2);

    // the policies changed: every owner again, with markers
    hq.entanglement().policyChanged();
    await().atMost(Duration.ofSeconds(20)).until(() -> alice.received().stream().anyMatch(e -> e.hasSyncMarker()
        && e.getSyncMarker().getKind() == SyncMarker.Kind.FULL_SYNC_END && e.getSyncMarker().getOwner().equals("red")));

    // the red tab guessed a blue object's id and asks hq for it: answered as for no such object
    alice.send(Envelope.newBuilder().setUpdateRequest(UpdateRequest.newBuilder().setRequestId(1)
        .setKind(RequestKind.UPDATE).setEntity("Item").setId(uuid(blueKept.getId())).setOwner("hq")
        .addAttributes(text("name", "taken over")).setRequestKey(UUID.randomUUID().toString())).build());
    RequestOutcome guessed = alice.await(e -> e.hasRequestOutcome() && e.getRequestOutcome().getRequestId() == 1)
        .getRequestOutcome();
    // ... and puts a presence on the blue tab's id: refused, without saying whose it is
    alice.send(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(1)
        .addChanges(Change.newBuilder().setEphemeral(true).setEntity("Presence").setId(Value.newBuilder().setText(bobsSlot))
            .setOwner("red.alice").setEpoch(1).setSerial(1).setOperation(Operation.UPSERT)
            .addAttributes(text("user", "alice")).addAttributes(text("status", "online")))).build());
    Outcome taken = alice.await(e -> e.hasAck() && e.getAck().getRequestId() == 1).getAck().getOutcomes(0);

    // an operator removes blue for good
    hq.entanglement().removeOwner("blue").join();

    // and red's last change shows the tab had its chance to receive all of the above
    Item redLast = persist(red, "red-vm-2", "red proxy");
    await().atMost(Duration.ofSeconds(20)).until(() -> holds(alice, redLast.getId()));
    hq.awaitCaughtUp("red.alice");

    List<Envelope> received = alice.received();
    Set<String> hidden = Set.of("blue", blueKept.getId().toString(), blueDeleted.getId().toString(),
        blueLive.getId().toString());
    List<String> leaks = received.stream().filter(envelope -> {
      String bytes = new String(envelope.toByteArray(), StandardCharsets.ISO_8859_1);
      return hidden.stream().anyMatch(bytes::contains);
    }).map(Envelope::toString).toList();
    assertThat(leaks).as("frames to the red tab naming blue or carrying blue's ids").isEmpty();
    assertThat(guessed.getStatus()).as(guessed.getMessage()).isEqualTo(RequestStatus.NOT_FOUND);
    assertThat(taken.getStatus()).isEqualTo(OutcomeStatus.REJECTED);
    assertThat(taken.getReason()).isEqualTo(RejectReason.NOT_OWNER);
    // what the tab was told instead: the transitions without who started them, markers of red and hq
    assertThat(received.stream().filter(Envelope::hasTransition).map(e -> e.getTransition().getOwner())).contains("hq");
    assertThat(received.stream().filter(Envelope::hasSyncMarker).map(e -> e.getSyncMarker().getOwner()))
        .contains("red", "hq");
    assertThat(holds(alice, blueLive.getId())).isFalse();
  }

  /** Red's objects go to browsers only once granted (e.g. an exercise phase begins). */
  static final class GrantLater implements Policy {
    volatile boolean granted;

    @Override
    public Decision send(Peer peer, ObjectRef object) {
      return Decision.denyIf(peer.browser() && object.owner().equals("red") && !granted, "not yet");
    }
  }

  @Test
  void anOwnerGrantedLaterComesToTheTabBetweenMarkersAndOneNeverGrantedIsNeverNamed() {
    String unique = UUID.randomUUID().toString();
    GrantLater policy = new GrantLater();
    TestNode hq = track(TestNode.builder("hq", Database.H2, Item.class)
        .listenInProcess("hq-" + unique)
        .set(EntanglementSettings.POLICY, policy)
        .set(EntanglementSettings.WEB_LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.WEB_IDENTITY, new TokenIdentity())
        .start());
    TestNode red = track(TestNode.builder("red", Database.H2, Item.class).peers("inprocess:hq-" + unique).start());
    hq.awaitConnected("red");
    Item redItem = persist(red, "red-vm-1", "red web server");
    Item board = persist(hq, "hq-board", "exercise board");
    await().atMost(Duration.ofSeconds(20)).until(() -> hq.find(Item.class, redItem.getId()) != null);

    BrowserClient alice = track(BrowserClient.connect(hq.entanglement().webAddress().orElseThrow(),
        "/entanglement?token=alice-secret"));
    alice.hello(Map.of());
    await().atMost(Duration.ofSeconds(20)).until(() -> holds(alice, board.getId()));
    // a full synchronization while red is withheld: markers of hq only
    hq.entanglement().policyChanged();
    await().atMost(Duration.ofSeconds(20)).until(() -> alice.received().stream().anyMatch(e -> e.hasSyncMarker()
        && e.getSyncMarker().getKind() == SyncMarker.Kind.FULL_SYNC_END));
    hq.awaitCaughtUp("red.alice");
    assertThat(alice.received()).noneMatch(e -> new String(e.toByteArray(), StandardCharsets.ISO_8859_1).contains("red-vm-1")
        || e.hasSyncMarker() && e.getSyncMarker().getOwner().equals("red"));

    policy.granted = true;
    hq.entanglement().policyChanged();
    await().atMost(Duration.ofSeconds(20)).until(() -> alice.received().stream().anyMatch(e -> e.hasSyncMarker()
        && e.getSyncMarker().getKind() == SyncMarker.Kind.FULL_SYNC_END && e.getSyncMarker().getOwner().equals("red")));
    List<Envelope> received = alice.received();
    int start = -1;
    int object = -1;
    int end = -1;
    for (int i = 0; i < received.size(); i++) {
      Envelope e = received.get(i);
      if (e.hasSyncMarker() && e.getSyncMarker().getOwner().equals("red")) {
        if (e.getSyncMarker().getKind() == SyncMarker.Kind.FULL_SYNC_START) {
          start = i;
        } else {
          end = i;
        }
      } else if (e.hasChanges() && e.getChanges().getChangesList().stream()
          .anyMatch(c -> c.getId().getUuid().equals(redItem.getId().toString())) && object < 0) {
        object = i;
      }
    }
    // the start marker went right before red's first object, the end after it, with red's position
    assertThat(start).isNotNegative().isEqualTo(object - 1);
    assertThat(end).isGreaterThan(object);
    assertThat(received.get(end).getSyncMarker().getSweep()).isTrue();
    assertThat(received.get(end).getSyncMarker().getSerial()).isPositive();
  }
}
