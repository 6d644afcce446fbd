package dev.entanglement.hibernate;

import org.hibernate.HibernateException;

/** The root of the exceptions Entanglement throws to the application. */
public class EntanglementException extends HibernateException {
  private static final long serialVersionUID = 1L;

  public EntanglementException(String message) {
    super(message);
  }

  public EntanglementException(String message, Throwable cause) {
    super(message, cause);
  }
}
