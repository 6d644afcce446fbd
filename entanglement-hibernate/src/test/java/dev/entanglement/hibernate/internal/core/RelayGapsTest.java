package dev.entanglement.hibernate.internal.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RelayGapsTest {
  @Test
  void withoutIgnoredChanges_aPositionIsTakenAsReceived() {
    assertThat(new RelayGaps().cap("b", 9, 0)).isEqualTo(9);
  }

  @Test
  void aPositionStaysBelowTheLowestIgnoredChange_whileThisNodeHoldsLess() {
    RelayGaps gaps = new RelayGaps();
    gaps.ignored("b", 4);
    gaps.ignored("b", 6);
    assertThat(gaps.cap("b", 9, 1)).isEqualTo(3);
    assertThat(gaps.cap("c", 9, 1)).as("other owners are not held").isEqualTo(9);
  }

  @Test
  void onceThisNodePassedSomeIgnoredChanges_theRelayMovesItNoFurther() {
    RelayGaps gaps = new RelayGaps();
    gaps.ignored("b", 1);
    gaps.ignored("b", 2);
    assertThat(gaps.cap("b", 3, 1)).isEqualTo(1);
  }

  @Test
  void onceThisNodePassedEveryIgnoredChange_positionsAreTakenAgain() {
    RelayGaps gaps = new RelayGaps();
    gaps.ignored("b", 4);
    assertThat(gaps.cap("b", 9, 4)).isEqualTo(9);
    assertThat(gaps.isEmpty()).isTrue();
  }
}
