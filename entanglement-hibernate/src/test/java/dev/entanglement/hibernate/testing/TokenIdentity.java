package dev.entanglement.hibernate.testing;

import dev.entanglement.hibernate.web.Admission;
import dev.entanglement.hibernate.web.BrowserIdentity;
import dev.entanglement.hibernate.web.UpgradeRequest;
import java.util.Map;

/**
 * An application's browser authentication for tests: a token (query parameter {@code token}, a
 * cookie {@code token} or a bearer header) names the user, and an optional {@code tab} parameter the tab; no token is 401,
 * an unknown one 403.
 */
public final class TokenIdentity implements BrowserIdentity {
  /** Token -> user (the team before the first '.'); "impostor" claims the name of the node red. */
  static final Map<String, String> TOKENS = Map.of("alice-secret", "red.alice", "bob-secret", "blue.bob",
      "impostor", "red");

  @Override
  public Admission identify(UpgradeRequest request) {
    String token = request.parameter("token").or(() -> request.cookie("token")).or(request::bearerToken).orElse(null);
    if (token == null) {
      return Admission.unauthorized("no token: connect with ?token=...");
    }
    String user = TOKENS.get(token);
    if (user == null) {
      return Admission.forbidden("unknown token");
    }
    return Admission.peer(user + request.parameter("tab").map(tab -> "." + tab).orElse(""));
  }
}
