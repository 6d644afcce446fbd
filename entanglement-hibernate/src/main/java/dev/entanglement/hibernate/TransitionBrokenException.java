package dev.entanglement.hibernate;

/**
 * A transition ended without its values being committed: the owner committed something else,
 * another transition of the object started, or the origin cancelled it.
 */
public class TransitionBrokenException extends EntanglementException {
  private static final long serialVersionUID = 1L;

  public TransitionBrokenException(String message) {
    super(message);
  }
}
