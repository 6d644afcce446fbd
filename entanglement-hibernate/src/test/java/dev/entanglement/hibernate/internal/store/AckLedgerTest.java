package dev.entanglement.hibernate.internal.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The one rule for "what every peer that needs it has": {@link AckLedger#lowestAcknowledged}. */
class AckLedgerTest {
  private static AckLedger ledger(Map<String, Map<String, Long>> stored) {
    return new AckLedger(null, null, "a", stored, Map.of(), Clock.systemUTC(), Duration.ZERO);
  }

  @Test
  void noPeers_theCeiling() {
    assertThat(ledger(Map.of()).lowestAcknowledged("a", 50)).isEqualTo(50);
  }

  @Test
  void storedPeersAway_countWithWhatTheyAcknowledged() {
    AckLedger ledger = ledger(Map.of("b", Map.of("a", 20L), "c", Map.of("a", 30L, "x", 7L)));
    assertThat(ledger.lowestAcknowledged("a", 50)).isEqualTo(20);
    assertThat(ledger.lowestAcknowledged("x", 50)).as("b acknowledged nothing of x: it does not count").isEqualTo(7);
  }

  @Test
  void aConnectedPeer_countsEvenAtZero() {
    AckLedger ledger = ledger(Map.of("b", Map.of("a", 20L)));
    ledger.arrived("c");
    assertThat(ledger.lowestAcknowledged("a", 50)).isZero();
    ledger.acknowledged("c", "a", 40);
    assertThat(ledger.lowestAcknowledged("a", 50)).isEqualTo(20);
  }

  @Test
  void aPeerThatLeavesHavingAcknowledgedNothing_isNotRemembered() {
    AckLedger ledger = ledger(Map.of("b", Map.of("a", 20L)));
    ledger.arrived("ghost");
    ledger.acknowledged("ghost", "a", 0);
    ledger.departed("ghost");
    assertThat(ledger.lowestAcknowledged("a", 50)).isEqualTo(20);
    assertThat(ledger.acknowledgedBy("ghost", "a")).isZero();
  }

  @Test
  void theOwnerItself_neverCountsForItsOwnObjects() {
    AckLedger ledger = ledger(Map.of());
    ledger.arrived("x");
    ledger.arrived("c");
    ledger.acknowledged("c", "x", 9);
    assertThat(ledger.lowestAcknowledged("x", 50)).isEqualTo(9);
    ledger.acknowledged("x", "x", 100); // forged: ignored
    assertThat(ledger.acknowledgedBy("x", "x")).isZero();
  }
}
