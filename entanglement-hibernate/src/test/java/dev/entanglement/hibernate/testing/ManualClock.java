package dev.entanglement.hibernate.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A wall clock that moves only when a test advances it (for behaviour measured in days, such as
 * retiring peers that stay away). Starts at the real time. Thread-safe.
 */
public final class ManualClock extends Clock {
  private final AtomicLong millis = new AtomicLong(System.currentTimeMillis());

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    return this;
  }

  @Override
  public long millis() {
    return millis.get();
  }

  @Override
  public Instant instant() {
    return Instant.ofEpochMilli(millis.get());
  }

  public void advance(Duration by) {
    millis.addAndGet(by.toMillis());
  }
}
