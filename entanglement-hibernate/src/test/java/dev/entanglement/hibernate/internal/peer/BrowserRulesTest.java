package dev.entanglement.hibernate.internal.peer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Heartbeat;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.OwnerRemoved;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestStatus;
import dev.entanglement.proto.v1.Routes;
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import dev.entanglement.proto.v1.Value;
import org.junit.jupiter.api.Test;

/** The rules of what a browser may send: pure functions, table by table. */
class BrowserRulesTest {
  private static final String ALICE = "red.alice";

  @Test
  void theHelloNamesTheBrowserAsTheApplicationDidAndLosesWhatOnlyADatabaseCouldClaim() {
    Hello sent = Hello.newBuilder().setProtocolVersion(1)
        .addOwners(OwnerPosition.newBuilder().setOwner("hq").setSerial(7).setHighest(1_000_000)).build();
    Hello named = BrowserRules.hello(sent, ALICE);
    assertThat(named.getNodeName()).isEqualTo(ALICE);
    assertThat(named.getOwners(0).getSerial()).isEqualTo(7);
    assertThat(named.getOwners(0).getHighest()).isZero();
    assertThat(BrowserRules.hello(sent.toBuilder().setNodeName(ALICE).build(), ALICE)).isNotNull();
    assertThat(BrowserRules.hello(sent.toBuilder().setNodeName("staff").build(), ALICE)).isNull();
  }

  @Test
  void aBatchKeepsOnlyTheBrowsersOwnEphemeralObjectsAndAnswersTheRestInPlace() {
    ChangeBatch batch = ChangeBatch.newBuilder().setRequestId(3)
        .addChanges(change("Item", ALICE, false))          // 0: an entity object: never
        .addChanges(change("Cursor", ALICE, true))         // 1: its own ephemeral object
        .addChanges(change("Cursor", "red.bob", true))     // 2: somebody else's
        .addChanges(change("Item", "hq", false))           // 3: an entity object of a node
        .addPositions(OwnerPosition.newBuilder().setOwner("hq").setSerial(99))
        .build();
    BrowserRules.Screened screened = BrowserRules.screen(batch, ALICE);
    assertThat(screened.allowed().getChangesList()).containsExactly(batch.getChanges(1));
    assertThat(screened.allowed().getPositionsList()).isEmpty();

    Ack applied = Ack.newBuilder().setRequestId(3)
        .addOutcomes(Outcome.newBuilder().setIndex(0).setStatus(OutcomeStatus.APPLIED)).build();
    Ack answer = screened.answer(3, applied);
    assertThat(answer.getRequestId()).isEqualTo(3);
    assertThat(answer.getOutcomesList()).extracting(Outcome::getIndex).containsExactly(0, 1, 2, 3);
    assertThat(answer.getOutcomesList()).extracting(Outcome::getStatus).containsExactly(OutcomeStatus.REJECTED,
        OutcomeStatus.APPLIED, OutcomeStatus.REJECTED, OutcomeStatus.REJECTED);
    assertThat(answer.getOutcomes(0).getReason()).isEqualTo(RejectReason.NOT_OWNER);
    assertThat(answer.getOutcomes(0).getMessage()).contains("browsers own nothing persistent")
        .contains("UpdateRequest");
    assertThat(answer.getOutcomes(2).getMessage()).contains("a browser owns only its own ephemeral objects");

    BrowserRules.Screened nothingAllowed = BrowserRules.screen(ChangeBatch.newBuilder().setRequestId(4)
        .addChanges(change("Item", ALICE, false)).build(), ALICE);
    assertThat(nothingAllowed.allowed().getChangesCount()).isZero();
    assertThat(nothingAllowed.answer(4, null).getOutcomes(0).getStatus()).isEqualTo(OutcomeStatus.REJECTED);
  }

  @Test
  void requestsAndTransitionsAreTheBrowsersOwn() {
    Envelope empty = Envelope.newBuilder().setUpdateRequest(UpdateRequest.newBuilder().setRequestId(1)).build();
    assertThat(((BrowserRules.Pass) BrowserRules.inbound(empty, ALICE)).envelope().getUpdateRequest().getOrigin())
        .isEqualTo(ALICE);
    Envelope own = Envelope.newBuilder().setUpdateRequest(UpdateRequest.newBuilder().setOrigin(ALICE)).build();
    assertThat(BrowserRules.inbound(own, ALICE)).isEqualTo(new BrowserRules.Pass(own));
    Envelope forged = Envelope.newBuilder().setUpdateRequest(UpdateRequest.newBuilder().setRequestId(5)
        .setOrigin("staff")).build();
    var answer = ((BrowserRules.Answer) BrowserRules.inbound(forged, ALICE)).answer().getRequestOutcome();
    assertThat(answer.getRequestId()).isEqualTo(5);
    assertThat(answer.getStatus()).isEqualTo(RequestStatus.REFUSED);
    assertThat(answer.getMessage()).contains("only in its own name, not in the name of 'staff'");

    Envelope transition = Envelope.newBuilder().setTransition(TransitionUpdate.newBuilder().setTransitionId(1)).build();
    assertThat(((BrowserRules.Pass) BrowserRules.inbound(transition, ALICE)).envelope().getTransition().getOrigin())
        .isEqualTo(ALICE);
    assertThat(BrowserRules.inbound(Envelope.newBuilder().setTransition(TransitionUpdate.newBuilder()
        .setOrigin("staff")).build(), ALICE)).isInstanceOf(BrowserRules.End.class);
  }

  @Test
  void nodeBusinessEndsTheStreamAndTheRestPasses() {
    for (Envelope envelope : new Envelope[] {
        Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder().setOwner("hq").setSweep(true)).build(),
        Envelope.newBuilder().setOwnerRemoved(OwnerRemoved.newBuilder().setOwner("hq")).build(),
        Envelope.newBuilder().setRoutes(Routes.getDefaultInstance()).build()}) {
      assertThat(BrowserRules.inbound(envelope, ALICE)).isInstanceOfSatisfying(BrowserRules.End.class,
          end -> assertThat(end.description()).contains(InboundDispatcher.kind(envelope)));
    }
    Envelope heartbeat = Envelope.newBuilder().setHeartbeat(Heartbeat.getDefaultInstance()).build();
    assertThat(BrowserRules.inbound(heartbeat, ALICE)).isEqualTo(new BrowserRules.Pass(heartbeat));
    Envelope ack = Envelope.newBuilder().setAck(Ack.newBuilder().setRequestId(1)).build();
    assertThat(BrowserRules.inbound(ack, ALICE)).isEqualTo(new BrowserRules.Pass(ack));
  }

  private static Change change(String entity, String owner, boolean ephemeral) {
    return Change.newBuilder().setEntity(entity).setOwner(owner).setEphemeral(ephemeral)
        .setId(Value.newBuilder().setText("x")).build();
  }
}
