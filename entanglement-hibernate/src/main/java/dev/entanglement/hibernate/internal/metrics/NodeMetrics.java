package dev.entanglement.hibernate.internal.metrics;

import dev.entanglement.hibernate.internal.peer.PeerConnection;
import org.jboss.logging.Logger;

/**
 * What the node reports to a metrics system. {@link #create} binds Micrometer when the
 * application has it (the plugin does not require it) and otherwise returns {@link #NONE}.
 * Implementations are thread-safe.
 */
public interface NodeMetrics {
  /** Reports nothing. */
  NodeMetrics NONE = new NodeMetrics() {};

  /** A transaction wrote the bookkeeping of {@code changes} captured changes in {@code nanos}. */
  default void captured(int changes, long nanos) {}

  /** A batch of {@code changes} from a peer was applied in {@code nanos}. */
  default void applied(int changes, long nanos) {}

  /**
   * The size of the change log of "send every change" types, as housekeeping last counted it (it
   * grows while a known peer is away, and shrinks once every known peer has acknowledged).
   */
  default void changeLog(java.util.function.LongSupplier size) {}

  /**
   * A chunk of an adoption of {@code entity} committed: {@code announced} rows claimed and
   * offered, {@code skipped} left alone (docs/adoption.md).
   */
  default void adopted(String entity, int announced, int skipped) {}

  /** A withdrawal was sent to a peer ({@code sent}) or applied here (docs/design/withdrawal.md). */
  default void withdrawal(boolean sent) {}

  /** What the runtime works out about one peer (the connection does not keep it). */
  interface PeerFigures {
    /** This node's serials the peer has not acknowledged. */
    long lagSerials();

    /** This node's objects changed beyond what the peer acknowledged (a database count). */
    long lagObjects();

    /** Changes the policies kept from or refused to the peer. */
    long policyDenials();
  }

  /** A peer's stream is open: its meters appear. */
  default void peerConnected(PeerConnection connection, PeerFigures figures) {}

  /** A change was rejected, by the peer ({@code here} false) or here, for {@code reason}. */
  default void rejected(String peer, boolean here, String reason) {}

  /** A peer's stream ended: its meters go. */
  default void peerGone(PeerConnection connection) {}

  /**
   * Micrometer's meters if Micrometer is on the classpath, in {@code registry} (a
   * {@code MeterRegistry}) or its global registry when {@code registry} is null; else NONE.
   */
  static NodeMetrics create(String nodeName, Object registry) {
    try {
      Class.forName("io.micrometer.core.instrument.MeterRegistry", false, NodeMetrics.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError absent) {
      if (registry != null) {
        Logger.getLogger(NodeMetrics.class).warnf("entanglement.metrics.registry is set but Micrometer is not on the classpath");
      }
      return NONE;
    }
    return MicrometerMetrics.bind(nodeName, registry);
  }
}
