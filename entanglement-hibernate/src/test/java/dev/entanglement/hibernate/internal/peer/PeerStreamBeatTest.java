package dev.entanglement.hibernate.internal.peer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.internal.peer.PeerStream.Beat;
import dev.entanglement.hibernate.testing.ManualTicker;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Heartbeats and silence detection decided on a hand-moved clock, without waiting. */
class PeerStreamBeatTest {
  private static final Duration INTERVAL = Duration.ofSeconds(2);
  private static final Duration TIMEOUT = Duration.ofSeconds(10);
  private final ManualTicker ticker = new ManualTicker();

  private Beat beat(long lastReceived, long lastSent, long outstanding) {
    return PeerStream.beat(ticker.nanos(), lastReceived, lastSent, outstanding, INTERVAL, TIMEOUT);
  }

  @Test
  void heartbeatDue_afterHalfAnIntervalWithoutSending() {
    long start = ticker.nanos();
    ticker.advance(Duration.ofMillis(999));
    assertThat(beat(start, start, 1)).isEqualTo(Beat.NOTHING);
    ticker.advance(Duration.ofMillis(1));
    assertThat(beat(start, start, 1)).isEqualTo(Beat.HEARTBEAT);
    long sent = ticker.nanos();
    ticker.advance(Duration.ofMillis(500));
    assertThat(beat(start, sent, 1)).isEqualTo(Beat.NOTHING);
  }

  @Test
  void peerOwingMessages_isSilentPastTheTimeout() {
    long start = ticker.nanos();
    ticker.advance(TIMEOUT);
    assertThat(beat(start, ticker.nanos(), 1)).isEqualTo(Beat.NOTHING);
    ticker.advance(Duration.ofNanos(1));
    assertThat(beat(start, ticker.nanos(), 1)).isEqualTo(Beat.SILENT);
  }

  @Test
  void peerOwingNothing_isNeverSilent() {
    long start = ticker.nanos();
    ticker.advance(TIMEOUT.multipliedBy(5));
    assertThat(beat(start, ticker.nanos(), 0)).isEqualTo(Beat.NOTHING);
    assertThat(beat(start, start, 0)).isEqualTo(Beat.HEARTBEAT);
  }

  @Test
  void streamWithChangesWaiting_stallsPastTheTimeoutWithoutSending_whateverThePeerSends() {
    Duration stall = Duration.ofSeconds(60);
    long lastSent = ticker.nanos();
    ticker.advance(stall);
    assertThat(PeerStream.stalled(ticker.nanos(), lastSent, 3, stall)).isFalse();
    ticker.advance(Duration.ofNanos(1));
    assertThat(PeerStream.stalled(ticker.nanos(), lastSent, 3, stall)).isTrue();
    assertThat(PeerStream.stalled(ticker.nanos(), lastSent, 0, stall)).as("nothing waits: idle, not stalled").isFalse();
    assertThat(PeerStream.stalled(ticker.nanos(), ticker.nanos(), 3, stall)).as("just sent").isFalse();
  }
}
