package dev.entanglement.hibernate.internal.peer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.internal.peer.SpeaksFor.Claim;
import org.junit.jupiter.api.Test;

/** Who may sweep, position, withdraw or remove an owner at node 'range': {@link SpeaksFor}'s rule, case by case. */
class SpeaksForTest {
  private static String problem(Claim claim, String peer, String owner, boolean connected, String route,
      boolean certificateKnown) {
    return SpeaksFor.problem(claim, "range", peer, owner, connected, route, certificateKnown);
  }

  @Test
  void theOwnerItselfAlwaysSpeaksForItself() {
    for (Claim claim : Claim.values()) {
      assertThat(problem(claim, "staff", "staff", true, "staff", true)).isNull();
    }
  }

  @Test
  void nobodySpeaksForThisNode() {
    assertThat(problem(Claim.SWEEP, "blue", "range", false, null, true)).isEqualTo("only node 'range' speaks for its own objects");
  }

  @Test
  void aPeerDoesNotSpeakForAnOwnerConnectedHereDirectly_norForOneRoutedThroughAnotherPeer() {
    assertThat(problem(Claim.WITHDRAWAL, "blue", "staff", true, "staff", true))
        .isEqualTo("owner 'staff' is connected to node 'range' directly and speaks for itself");
    assertThat(problem(Claim.REMOVAL, "blue", "hq", false, "gateway", true))
        .isEqualTo("node 'range' reaches owner 'hq' through 'gateway', not through peer 'blue'");
  }

  @Test
  void thePeerAnOwnerIsRoutedThroughSpeaksForIt() {
    for (Claim claim : Claim.values()) {
      assertThat(problem(claim, "gateway", "hq", false, "gateway", false)).isNull();
    }
  }

  @Test
  void withNoRoute_onlyAnOwnerWhoseSignedStateWasHeldHere_butARemovalFloodsOn() {
    assertThat(problem(Claim.POSITION, "blue", "ghost", false, null, false))
        .isEqualTo("node 'range' has no route to owner 'ghost' and has never held a signed state of it");
    assertThat(problem(Claim.SWEEP, "gateway", "away", false, null, true)).isNull();
    assertThat(problem(Claim.REMOVAL, "gateway", "gone", false, null, false)).isNull();
  }
}
