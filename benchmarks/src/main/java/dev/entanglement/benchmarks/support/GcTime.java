package dev.entanglement.benchmarks.support;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;

/**
 * The JVM's accumulated garbage-collection time: taken before and after a round, it tells
 * whether a latency tail coincides with collector pauses (all nodes share one heap here).
 */
public final class GcTime {
  private GcTime() {}

  /** Milliseconds spent in all collectors since the JVM started (G1 young pauses included). */
  public static long totalMillis() {
    long total = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      total += Math.max(0, gc.getCollectionTime());
    }
    return total;
  }
}
