package dev.entanglement.benchmarks.support;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * CPU time of the JVM's threads, grouped: where a round's CPU went when many nodes share one
 * JVM. The plugin names its threads {@code entanglement-<node>-...}, so a group can be a node or
 * a set of nodes. A thread that ended during the round is missing from the second snapshot and
 * its time is lost (the plugin's workers live 60 s after their last task, longer than a round).
 *
 * @param names each thread's name, by id
 * @param nanos each thread's CPU time so far, by id
 * @param process the whole process's CPU time (GC and JIT included), or -1 if unknown
 */
public record ThreadCpu(Map<Long, String> names, Map<Long, Long> nanos, long process) {
  /** The current CPU times of every live thread. */
  public static ThreadCpu take() {
    ThreadMXBean bean = ManagementFactory.getThreadMXBean();
    Map<Long, String> names = new HashMap<>();
    Map<Long, Long> nanos = new HashMap<>();
    for (ThreadInfo info : bean.getThreadInfo(bean.getAllThreadIds())) {
      if (info != null) {
        long cpu = bean.getThreadCpuTime(info.getThreadId());
        if (cpu >= 0) {
          names.put(info.getThreadId(), info.getThreadName());
          nanos.put(info.getThreadId(), cpu);
        }
      }
    }
    long process = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
        ? os.getProcessCpuTime() : -1;
    return new ThreadCpu(names, nanos, process);
  }

  /** CPU nanoseconds spent since {@code before}, by the group {@code group} gives each thread (id, name). */
  public Map<String, Long> since(ThreadCpu before, Function<Map.Entry<Long, String>, String> group) {
    Map<String, Long> spent = new HashMap<>();
    for (Map.Entry<Long, String> thread : names.entrySet()) {
      long delta = nanos.get(thread.getKey()) - before.nanos.getOrDefault(thread.getKey(), 0L);
      spent.merge(group.apply(thread), delta, Long::sum);
    }
    return spent;
  }
}
