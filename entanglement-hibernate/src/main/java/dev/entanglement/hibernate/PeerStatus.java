package dev.entanglement.hibernate;

import java.time.Instant;

/**
 * A snapshot of one peer connection, for applications, tests and operators. Immutable.
 *
 * @param name the peer's node name (null while the handshake has not completed)
 * @param address the address dialed, or the remote address of a connection the peer opened
 * @param dialed whether this node dialed the peer
 * @param state where the connection is in its life
 * @param since when the connection entered its state
 * @param outboxDepth changes waiting to be sent (at most one per object for coalescing types)
 * @param coalesced changes replaced by a newer state of the same object before being sent
 * @param changesSent changes sent to the peer (catch-up included)
 * @param catchUpObjectsSent objects read from the database for the peer's catch-up
 * @param bytesSent bytes of messages sent to the peer (protobuf size, without gRPC framing)
 * @param changesAcknowledged changes the peer applied or already had
 * @param changesRejectedByPeer changes the peer refused (see its log and ours for the reasons)
 * @param changesReceived changes received from the peer
 * @param changesRejectedHere received changes this node refused
 * @param changesAppliedHere received changes this node applied (not counting copies it already had)
 * @param identity who the peer is: its name and, over mutual TLS, its verified certificate's
 *     fingerprint and subject (null while the handshake has not completed)
 * @param paused whether the flow with the peer is paused ({@link Entanglement#pause(String)})
 * @param rejectedHereByReason the received changes this node refused, by reason (e.g.
 *     {@link RefusalReason#SIGNATURE} for forged or altered state); reasons never seen are absent
 */
public record PeerStatus(
    String name,
    String address,
    boolean dialed,
    State state,
    Instant since,
    int outboxDepth,
    long coalesced,
    long changesSent,
    long catchUpObjectsSent,
    long bytesSent,
    long changesAcknowledged,
    long changesRejectedByPeer,
    long changesReceived,
    long changesRejectedHere,
    long changesAppliedHere,
    PeerIdentity identity,
    boolean paused,
    java.util.Map<RefusalReason, Long> rejectedHereByReason) {

  public PeerStatus {
    rejectedHereByReason = rejectedHereByReason == null ? java.util.Map.of() : java.util.Map.copyOf(rejectedHereByReason);
  }

  /** As the canonical constructor, without rejections by reason. */
  public PeerStatus(String name, String address, boolean dialed, State state, Instant since, int outboxDepth,
      long coalesced, long changesSent, long catchUpObjectsSent, long bytesSent, long changesAcknowledged,
      long changesRejectedByPeer, long changesReceived, long changesRejectedHere, long changesAppliedHere,
      PeerIdentity identity, boolean paused) {
    this(name, address, dialed, state, since, outboxDepth, coalesced, changesSent, catchUpObjectsSent, bytesSent,
        changesAcknowledged, changesRejectedByPeer, changesReceived, changesRejectedHere, changesAppliedHere, identity,
        paused, java.util.Map.of());
  }

  /** Where a connection is in its life. */
  public enum State {
    /** Opened; the peers' Hellos are not both accepted yet. */
    HANDSHAKING,
    /** Replicating. */
    STREAMING,
    /** Ended. */
    CLOSED
  }
}
