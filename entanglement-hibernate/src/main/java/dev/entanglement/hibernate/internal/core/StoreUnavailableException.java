package dev.entanglement.hibernate.internal.core;

/**
 * This node's database failed transiently for longer than it waits, so received work was neither
 * applied nor parked nor answered. The stream that carried it must end: the peer then sends it
 * again after reconnecting (its position at this node has not moved past it).
 */
public final class StoreUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public StoreUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
