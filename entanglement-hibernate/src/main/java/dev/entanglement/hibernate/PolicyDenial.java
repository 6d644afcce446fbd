package dev.entanglement.hibernate;

/**
 * How often the policies denied something with one peer, at one check. Immutable.
 *
 * @param peer the peer's node name
 * @param direction whether changes to the peer or from the peer were denied
 * @param check the policy check that denied them
 * @param count how many were denied since the node started
 * @param lastReason the reason the policy gave for the latest of them
 */
public record PolicyDenial(String peer, Direction direction, Check check, long count, String lastReason) {
  /** Which way the denied thing was going. */
  public enum Direction { SEND, RECEIVE }

  /** The policy check that said no. */
  public enum Check {
    /** A change, transition or ephemeral object on its way to the peer ({@code sendToPeer}, {@code send}). */
    SEND,
    /** A received message before it was decoded ({@code receiveFromPeer}, {@code receiveMessage}). */
    RECEIVE_MESSAGE,
    /** A received object compared with the stored one ({@code receiveObject}). */
    RECEIVE_OBJECT
  }
}
