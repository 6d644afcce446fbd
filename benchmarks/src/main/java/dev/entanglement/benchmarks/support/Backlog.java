package dev.entanglement.benchmarks.support;

import java.util.HashMap;
import java.util.Map;

/**
 * The sink's apply rate without the source's commit rate in the way: the source commits a
 * backlog before it has ever met the sink, then dials it; the time runs from the dial until the
 * sink has answered everything. The changes travel the catch-up path (read back from the source's
 * database in serial order), as after any partition. Fresh nodes every round, started untimed.
 */
public final class Backlog {
  private Backlog() {}

  /** One round; {@code backlog} commits on the source and returns the rows it inserted. */
  public static Replication.Round round(Transport transport, Map<String, String> properties,
      java.util.function.Function<Node, Workload.Done> backlog) {
    Map<String, String> sinkProperties = new HashMap<>(properties);
    sinkProperties.putAll(transport.listen());
    Map<String, String> sourceProperties = new HashMap<>(properties);
    sourceProperties.putAll(transport.dialer());
    Node sink = null;
    Node source = null;
    try {
      sink = Node.start(Pair.SINK, Db.H2.fresh("sink"), sinkProperties);
      source = Node.start(Pair.SOURCE, Db.H2.fresh("source"), sourceProperties);
      Workload.Done done = backlog.apply(source);
      long start = System.nanoTime();
      source.entanglement().connect(sink.address());
      source.awaitConnected(Pair.SINK);
      source.awaitCaughtUp(Pair.SINK);
      long total = System.nanoTime() - start;
      long arrived = sink.countItems();
      if (arrived != done.count()) {
        throw new IllegalStateException("the sink has %,d rows, the source inserted %,d".formatted(arrived, done.count()));
      }
      return new Replication.Round(done, total);
    } finally {
      Nodes.closeAndDispose(source, sink);
    }
  }
}
