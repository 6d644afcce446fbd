package dev.entanglement.hibernate.internal.model;

import dev.entanglement.proto.v1.RejectReason;

/** A received change that cannot be turned into entity state; becomes an in-band rejection. */
public final class DecodeException extends Exception {
  private static final long serialVersionUID = 1L;
  private final RejectReason reason;

  public DecodeException(RejectReason reason, String message) {
    super(message, null, false, false);
    this.reason = reason;
  }

  public RejectReason reason() {
    return reason;
  }
}
