package dev.entanglement.hibernate.web;

import java.util.Objects;

/** A {@link BrowserIdentity}'s answer to an upgrade request: a peer name, or a refusal. Immutable. */
public sealed interface Admission {
  /** Admits the browser as the peer {@code name}. */
  static Admission peer(String name) {
    return new Admitted(name);
  }

  /** Refuses with 401 Unauthorized (no credentials, or bad ones); {@code reason} is the answer's body. */
  static Admission unauthorized(String reason) {
    return new Refused(401, reason);
  }

  /** Refuses with 403 Forbidden (the browser is known but may not connect); {@code reason} is the body. */
  static Admission forbidden(String reason) {
    return new Refused(403, reason);
  }

  /** The browser connects as the peer {@code peerName}. */
  record Admitted(String peerName) implements Admission {
    public Admitted {
      Objects.requireNonNull(peerName, "peerName");
    }
  }

  /**
   * The upgrade is answered with an HTTP {@code status} (401 or 403) and {@code reason} as a text
   * body, and no WebSocket is opened.
   */
  record Refused(int status, String reason) implements Admission {
    public Refused {
      if (status != 401 && status != 403) {
        throw new IllegalArgumentException("a refusal is 401 or 403, not " + status);
      }
      Objects.requireNonNull(reason, "reason");
    }
  }
}
