package dev.entanglement.hibernate;

/**
 * A setting or a mapping Entanglement cannot work with. Thrown while the SessionFactory is built,
 * so that a misconfigured node never starts; the message names the setting or the entity and
 * attribute, the value found and what is expected.
 */
public class EntanglementConfigurationException extends EntanglementException {
  private static final long serialVersionUID = 1L;

  public EntanglementConfigurationException(String message) {
    super(message);
  }

  public EntanglementConfigurationException(String message, Throwable cause) {
    super(message, cause);
  }
}
