package dev.entanglement.benchmarks.report;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How much a second busy thread slows the first on this machine. Every "with a peer" figure runs
 * the peer on the other core(s) of the same machine; if the cores are hyperthreads of one
 * physical core, or the host oversubscribes them, the source loses speed even though it never
 * waits for the peer. Measured once at the start, as context for those figures.
 */
final class CpuCalibration {
  private static final long RUN_NANOS = 700_000_000L;

  private CpuCalibration() {}

  /** Work per second of one busy thread when a second one runs, relative to it running alone. */
  static double pairedSpeed() throws InterruptedException {
    spin(RUN_NANOS); // warm-up
    double alone = spin(RUN_NANOS);
    AtomicLong other = new AtomicLong();
    CountDownLatch started = new CountDownLatch(1);
    Thread competitor = new Thread(() -> {
      started.countDown();
      other.set(Double.doubleToLongBits(spin(RUN_NANOS + 200_000_000L)));
    }, "cpu-calibration");
    competitor.setDaemon(true);
    competitor.start();
    started.await();
    double paired = spin(RUN_NANOS);
    competitor.join();
    return paired / alone;
  }

  /** Iterations per second of a CPU-bound loop (xorshift, no memory traffic). */
  private static double spin(long nanos) {
    long start = System.nanoTime();
    long x = start | 1;
    long iterations = 0;
    while (System.nanoTime() - start < nanos) {
      for (int i = 0; i < 10_000; i++) {
        x ^= x << 13;
        x ^= x >>> 7;
        x ^= x << 17;
      }
      iterations += 10_000;
    }
    if (x == 0) {
      System.out.print(""); // keeps x alive, so the loop is not removed
    }
    return iterations / ((System.nanoTime() - start) / 1e9);
  }
}
