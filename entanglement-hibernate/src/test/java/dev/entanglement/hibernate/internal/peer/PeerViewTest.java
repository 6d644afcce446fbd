package dev.entanglement.hibernate.internal.peer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.OwnerRemoved;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.Routes;
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.TransitionUpdate;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What a browser or a peer node may be told: {@link PeerView}'s decisions, kind by kind. */
class PeerViewTest {
  /** red.alice on node hq, holding objects of red from an earlier stream, was sent an object of staff on this one. */
  private static PeerView view() {
    PeerView view = PeerView.browser("red.alice", "hq", Set.of("red"));
    view.show("staff");
    return view;
  }

  private static Envelope marker(String owner) {
    return Envelope.newBuilder().setSyncMarker(SyncMarker.newBuilder().setKind(SyncMarker.Kind.FULL_SYNC_START)
        .setOwner(owner)).build();
  }

  @Test
  void aBrowserMayHearOfTheNodeItselfWhatItHoldsAndWhatItWasSent() {
    PeerView view = view();
    assertThat(view.mayName("hq")).isTrue();
    assertThat(view.mayName("red.alice")).isTrue();
    assertThat(view.mayName("red")).isTrue();
    assertThat(view.mayName("staff")).isTrue();
    assertThat(view.mayName("blue")).isFalse();
    // positions only of what it was sent on this stream
    assertThat(view.shownObjectsOf("staff")).isTrue();
    assertThat(view.shownObjectsOf("red")).isFalse();
  }

  @Test
  void markersOwnerRemovalsAndTransitionsOfAnOwnerNeverShownDoNotGo() {
    PeerView view = view();
    assertThat(view.outbound(marker("red"))).isEqualTo(marker("red"));
    assertThat(view.outbound(marker("blue"))).isNull();
    Envelope removal = Envelope.newBuilder().setOwnerRemoved(OwnerRemoved.newBuilder().setOwner("blue")
        .setRemovedBy("hq")).build();
    assertThat(view.outbound(removal)).isNull();
    // a removal of an owner it holds goes, without the node where it was made when that is hidden
    Envelope removedElsewhere = Envelope.newBuilder().setOwnerRemoved(OwnerRemoved.newBuilder().setOwner("staff")
        .setRemovedBy("blue")).build();
    assertThat(view.outbound(removedElsewhere).getOwnerRemoved())
        .isEqualTo(OwnerRemoved.newBuilder().setOwner("staff").build());
    Envelope blueDrag = Envelope.newBuilder().setTransition(TransitionUpdate.newBuilder().setOwner("blue")
        .setOrigin("blue")).build();
    assertThat(view.outbound(blueDrag)).isNull();
    Envelope sharedDrag = Envelope.newBuilder().setTransition(TransitionUpdate.newBuilder().setOwner("hq")
        .setOrigin("~0123456789ab")).build();
    assertThat(view.outbound(sharedDrag)).isSameAs(sharedDrag);
  }

  @Test
  void positionsOfOwnersNotSentAreTakenOutAndNodeBusinessNeverGoes() {
    PeerView view = view();
    Envelope batch = Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(3)
        .addChanges(Change.newBuilder().setOwner("staff").setSerial(4))
        .addPositions(OwnerPosition.newBuilder().setOwner("staff").setSerial(4))
        .addPositions(OwnerPosition.newBuilder().setOwner("blue").setSerial(9))).build();
    ChangeBatch sent = view.outbound(batch).getChanges();
    assertThat(sent.getChangesList()).isEqualTo(batch.getChanges().getChangesList());
    assertThat(sent.getPositionsList()).extracting(OwnerPosition::getOwner).containsExactly("staff");
    Envelope hello = Envelope.newBuilder().setHello(Hello.newBuilder().setNodeName("hq")
        .addOwners(OwnerPosition.newBuilder().setOwner("blue"))).build();
    assertThat(view.outbound(hello).getHello().getOwnersList()).isEmpty();
    assertThat(view.outbound(Envelope.newBuilder().setRoutes(Routes.getDefaultInstance()).build())).isNull();
    Envelope outcome = Envelope.newBuilder().setRequestOutcome(RequestOutcome.newBuilder().setRequestId(1)).build();
    assertThat(view.outbound(outcome)).isSameAs(outcome);
  }

  @Test
  void aPseudonymIsStableOnAStreamUnrelatedAcrossStreamsAndNoName() {
    PeerView view = view();
    String blue = view.pseudonym("blue");
    assertThat(blue).matches("~[0-9a-f]{12}").isEqualTo(view.pseudonym("blue")).isNotEqualTo(view.pseudonym("blue.bob"));
    assertThat(view().pseudonym("blue")).isNotEqualTo(blue);
  }

  /**
   * Node red at gateway range: it acknowledged staff before, the policies would send it objects of
   * white (not of blue), and it is sent an object of green (a hand-over, say) on this stream.
   */
  private static PeerView nodeView() {
    return PeerView.node("red", "range", Set.of("staff"), owner -> owner.equals("white"));
  }

  @Test
  void aNodeHearsOfWhatItKnewWhatThePoliciesWouldSendItAndWhatItIsSent_notOfBlue() {
    PeerView view = nodeView();
    assertThat(view.mayName("range")).isTrue();
    assertThat(view.mayName("red")).isTrue();
    assertThat(view.mayName("staff")).isTrue();
    assertThat(view.mayName("white")).isTrue();
    assertThat(view.mayName("blue")).isFalse();
    assertThat(view.mayName("green")).isFalse();
    assertThat(view.show("green")).as("green becomes nameable: routes to it are announced").isTrue();
    assertThat(view.show("green")).as("once").isFalse();
    assertThat(view.show("staff")).as("known already").isFalse();
    assertThat(view.positionOf("green")).isTrue();
    assertThat(view.positionOf("staff")).as("a node keeps positions of what it knew (its next Hello stays exact)").isTrue();
  }

  @Test
  void aNodesHelloPositionsAndRoutesNameOnlyWhatItMayName() {
    PeerView view = nodeView();
    Envelope hello = Envelope.newBuilder().setHello(Hello.newBuilder().setNodeName("range")
        .addOwners(OwnerPosition.newBuilder().setOwner("blue").setSerial(3))
        .addOwners(OwnerPosition.newBuilder().setOwner("staff").setSerial(2))).build();
    assertThat(view.outbound(hello).getHello().getOwnersList()).extracting(OwnerPosition::getOwner).containsExactly("staff");
    Envelope positions = Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(1)
        .addPositions(OwnerPosition.newBuilder().setOwner("blue").setSerial(5))
        .addPositions(OwnerPosition.newBuilder().setOwner("white").setSerial(1))).build();
    assertThat(view.outbound(positions).getChanges().getPositionsList()).extracting(OwnerPosition::getOwner)
        .containsExactly("white");
    Envelope routes = Envelope.newBuilder().setRoutes(Routes.newBuilder().setFull(true)
        .addRoutes(dev.entanglement.proto.v1.Route.newBuilder().setOwner("blue").addPath("range").addPath("blue"))
        .addRoutes(dev.entanglement.proto.v1.Route.newBuilder().setOwner("staff").addPath("range").addPath("blue").addPath("staff"))
        .addRoutes(dev.entanglement.proto.v1.Route.newBuilder().setOwner("white").addPath("range").addPath("white"))).build();
    assertThat(view.outbound(routes).getRoutes().getRoutesList()).extracting(r -> r.getOwner())
        .as("no route to blue, none through blue").containsExactly("white");
    Envelope blueDragsStaffs = Envelope.newBuilder().setTransition(TransitionUpdate.newBuilder().setOwner("staff")
        .setOrigin("blue")).build();
    assertThat(view.outbound(blueDragsStaffs)).isNull();
    assertThat(view.outbound(marker("blue"))).isNull();
  }
}
