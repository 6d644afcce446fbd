package dev.entanglement.hibernate.internal.ephemeral;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.entanglement.hibernate.testing.ManualTicker;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class EphemeralExpiryTest {
  private static final long SECOND = Duration.ofSeconds(1).toNanos();

  private final ManualTicker ticker = new ManualTicker();
  private final EphemeralExpiry<String> expiry = new EphemeralExpiry<>(ticker);

  @Test
  void anObjectExpiresAtItsTimeToLive_notBefore() {
    expiry.schedule("a", SECOND);
    ticker.advance(Duration.ofMillis(999));
    assertThat(expiry.pollExpired()).isEmpty();
    ticker.advance(Duration.ofMillis(1));
    assertThat(expiry.pollExpired()).containsExactly("a");
    assertThat(expiry.pollExpired()).as("returned once").isEmpty();
    assertThat(expiry.size()).isZero();
  }

  @Test
  void schedulingAgain_replacesTheDeadline() {
    expiry.schedule("a", SECOND);
    ticker.advance(Duration.ofMillis(800));
    expiry.schedule("a", SECOND);
    assertThat(expiry.size()).isEqualTo(1);
    ticker.advance(Duration.ofMillis(800));
    assertThat(expiry.pollExpired()).as("refreshed at 800 ms").isEmpty();
    ticker.advance(Duration.ofMillis(200));
    assertThat(expiry.pollExpired()).containsExactly("a");
  }

  @Test
  void aCancelledObject_neverExpires() {
    expiry.schedule("a", SECOND);
    assertThat(expiry.cancel("a")).isTrue();
    assertThat(expiry.cancel("a")).isFalse();
    ticker.advance(Duration.ofSeconds(10));
    assertThat(expiry.pollExpired()).isEmpty();
  }

  @Test
  void dueObjectsComeEarliestFirst_andOnlyThoseDue() {
    expiry.schedule("late", 3 * SECOND);
    expiry.schedule("early", SECOND);
    expiry.schedule("middle", 2 * SECOND);
    expiry.schedule("same", 2 * SECOND);
    ticker.advance(Duration.ofSeconds(2));
    assertThat(expiry.pollExpired()).containsExactly("early", "middle", "same");
    assertThat(expiry.size()).isEqualTo(1);
  }

  @Test
  void remainingTime_countsDown_andIsMinusOneWithoutADeadline() {
    assertThat(expiry.remainingNanos("a")).isEqualTo(-1);
    expiry.schedule("a", SECOND);
    ticker.advance(Duration.ofMillis(300));
    assertThat(expiry.remainingNanos("a")).isEqualTo(Duration.ofMillis(700).toNanos());
    ticker.advance(Duration.ofSeconds(5));
    assertThat(expiry.remainingNanos("a")).isZero();
  }

  @Test
  void manyObjectsNotDue_costNothingToPoll() {
    for (int i = 0; i < 100_000; i++) {
      expiry.schedule("o" + i, SECOND + i);
    }
    assertThat(expiry.pollExpired()).isEmpty();
    ticker.advance(Duration.ofNanos(SECOND + 9));
    assertThat(expiry.pollExpired()).hasSize(10).startsWith("o0").endsWith("o9");
  }

  @Test
  void aTimeToLiveMustBePositive() {
    assertThatThrownBy(() -> expiry.schedule("a", 0)).isInstanceOf(IllegalArgumentException.class);
  }
}
