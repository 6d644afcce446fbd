package dev.entanglement.hibernate.internal.peer;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The bucket's arithmetic, on a clock the test drives. */
class TokenBucketTest {
  private static final long SECOND = 1_000_000_000L;

  @Test
  void unlimited_neverWaits() {
    TokenBucket bucket = new TokenBucket(0, 0);
    bucket.spend(1_000_000, 0);
    assertThat(bucket.waitNanos(0)).isZero();
    assertThat(bucket.messageBudget()).isEqualTo(Long.MAX_VALUE);
  }

  @Test
  void overdraft_delaysTheNextMessageByTheDebt() {
    TokenBucket bucket = new TokenBucket(1000, 0); // 1000 B/s, 250 B burst
    assertThat(bucket.waitNanos(0)).isZero();
    bucket.spend(750, 0); // 500 B in debt
    assertThat(bucket.waitNanos(0)).isEqualTo(501 * SECOND / 1000);
    assertThat(bucket.waitNanos(SECOND / 2)).isEqualTo(SECOND / 1000);
    assertThat(bucket.waitNanos(SECOND)).isZero();
  }

  @Test
  void sendingAsAllowed_staysWithinTheLimitOverTime() {
    long rate = 64 * 1024;
    TokenBucket bucket = new TokenBucket(rate, 0);
    long now = 0;
    long sent = 0;
    while (now < 10 * SECOND) {
      long wait = bucket.waitNanos(now);
      if (wait > 0) {
        now += wait;
        continue;
      }
      long message = bucket.messageBudget();
      bucket.spend(message, now);
      sent += message;
    }
    // ten seconds' worth, plus at most the burst and one message
    assertThat(sent).isLessThanOrEqualTo(10 * rate + rate / 4 + rate / 8);
    assertThat(sent).isGreaterThanOrEqualTo(10 * rate - rate / 8);
  }
}
