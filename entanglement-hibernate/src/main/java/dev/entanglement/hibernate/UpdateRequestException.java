package dev.entanglement.hibernate;

/**
 * An update request to another node's object did not succeed; the subclass says why. The
 * requesting node's database is unchanged by the request (it never writes objects it does not
 * own).
 */
public class UpdateRequestException extends EntanglementException {
  private static final long serialVersionUID = 1L;
  private final String owner;

  public UpdateRequestException(String owner, String message) {
    super(message);
    this.owner = owner;
  }

  /** The node that owns the object. */
  public String owner() {
    return owner;
  }

  /** The owner, or a node on the way, refused the request (policy, validation, constraint). */
  public static final class Refused extends UpdateRequestException {
    private static final long serialVersionUID = 1L;
    private final RefusalReason reason;

    public Refused(String owner, RefusalReason reason, String message) {
      super(owner, message);
      this.reason = reason;
    }

    /** Why, e.g. {@link RefusalReason#CONSTRAINT_VIOLATION} or {@link RefusalReason#POLICY}. */
    public RefusalReason reason() {
      return reason;
    }
  }

  /** The owner does not have the object. */
  public static final class NotFound extends UpdateRequestException {
    private static final long serialVersionUID = 1L;

    public NotFound(String owner, String message) {
      super(owner, message);
    }
  }

  /** The object changed at the owner since the version the request was made from. */
  public static final class Conflict extends UpdateRequestException {
    private static final long serialVersionUID = 1L;

    public Conflict(String owner, String message) {
      super(owner, message);
    }
  }

  /**
   * The request was never sent within {@code entanglement.request.lifetime}: no route to its
   * owner existed. The outcome is known: the owner never saw it. The message says why no route
   * was found.
   */
  public static final class OwnerUnreachable extends UpdateRequestException {
    private static final long serialVersionUID = 1L;

    public OwnerUnreachable(String owner, String message) {
      super(owner, message);
    }
  }

  /**
   * This node's own database failed transiently (its connection pool was exhausted, the
   * connection was lost, a deadlock or lock timeout) while the call ran its local transaction.
   * The outcome is known: nothing was written here and no request left, so the call can simply
   * be made again once the database is available. {@link #owner()} is null when the object was
   * not read. The message names the node and the database's own words.
   */
  public static final class DatabaseUnavailable extends UpdateRequestException {
    private static final long serialVersionUID = 1L;

    public DatabaseUnavailable(String owner, String message, Throwable cause) {
      super(owner, message);
      initCause(cause);
    }
  }

  /**
   * The request was sent at least once, but no final answer came back within {@code
   * entanglement.request.lifetime} (links dropped, the owner silent or its database failing): it
   * was sent again while it lived, and the owner may have applied it. Its listeners hear {@code
   * OUTCOME_UNKNOWN}.
   */
  public static final class OutcomeUnknown extends UpdateRequestException {
    private static final long serialVersionUID = 1L;

    public OutcomeUnknown(String owner, String message) {
      super(owner, message);
    }
  }

  /**
   * Kept for compatibility; no longer thrown for update requests: a dropped connection is
   * retried (the request is sent again once a route exists), and a request whose answer never
   * comes fails with {@link OutcomeUnknown} when its lifetime ends.
   */
  public static final class ConnectionLost extends UpdateRequestException {
    private static final long serialVersionUID = 1L;

    public ConnectionLost(String owner, String message) {
      super(owner, message);
    }
  }
}
