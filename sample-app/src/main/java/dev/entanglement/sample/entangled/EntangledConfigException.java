package dev.entanglement.sample.entangled;

/** A node cannot start as configured; the message names the option, the value and what is expected. */
public final class EntangledConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public EntangledConfigException(String message) {
    super(message);
  }

  public EntangledConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
