package dev.entanglement.benchmarks.support;

import java.util.HashMap;
import java.util.Map;

/**
 * Two connected nodes in this JVM: {@code source} listens and commits, {@code sink} dials it and
 * applies. Both share the machine's cores, so a pair's figures include the sink's work competing
 * with the source's.
 */
public final class Pair implements AutoCloseable {
  public static final String SOURCE = "source";
  public static final String SINK = "sink";

  private final Node source;
  private final Node sink;

  private Pair(Node source, Node sink) {
    this.source = source;
    this.sink = sink;
  }

  /** Starts both nodes on fresh databases and waits until their stream is open. */
  public static Pair start(Db db, Transport transport, Map<String, String> properties) {
    Map<String, String> sourceProperties = new HashMap<>(properties);
    sourceProperties.putAll(transport.listen());
    Node source = Node.start(SOURCE, db.fresh("source"), sourceProperties);
    Map<String, String> sinkProperties = new HashMap<>(properties);
    sinkProperties.putAll(transport.dial(source.address()));
    Node sink = Node.start(SINK, db.fresh("sink"), sinkProperties);
    source.awaitConnected(SINK);
    sink.awaitConnected(SOURCE);
    return new Pair(source, sink);
  }

  public Node source() {
    return source;
  }

  public Node sink() {
    return sink;
  }

  /** Waits until the sink has answered every change the source committed so far. */
  public void awaitCaughtUp() {
    source.awaitCaughtUp(SINK);
  }

  /** Closes both nodes and frees their databases. */
  @Override
  public void close() {
    Nodes.closeAndDispose(sink, source);
  }
}
