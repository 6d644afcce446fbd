package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.ChangeBatch;
import java.util.concurrent.Executor;

/** What a peer connection needs from its node. Implementations are thread-safe. */
public interface PeerHost {
  String nodeName();

  int outboxBatchSize();

  int applyWindow();

  /** The shared pool under the per-peer serial executors. */
  Executor pool();

  /** Applies a received batch durably and returns the answer. Blocking; never throws. */
  Ack apply(String peer, ChangeBatch batch);

  /**
   * Called once the peer's Hello is accepted; returns a reason to refuse the connection (e.g. a
   * stream with that peer is already open), or null to accept it.
   */
  String register(PeerConnection connection);

  /** Called once when the connection has ended, whatever ended it. */
  void unregister(PeerConnection connection);
}
