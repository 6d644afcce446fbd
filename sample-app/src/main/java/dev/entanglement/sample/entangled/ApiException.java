package dev.entanglement.sample.entangled;

/** A request the management API answers with an error status and a sentence saying why. */
final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int status;

  ApiException(int status, String message) {
    super(message);
    this.status = status;
  }

  int status() {
    return status;
  }
}
