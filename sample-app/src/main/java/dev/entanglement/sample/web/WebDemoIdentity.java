package dev.entanglement.sample.web;

import dev.entanglement.hibernate.web.Admission;
import dev.entanglement.hibernate.web.BrowserIdentity;
import dev.entanglement.hibernate.web.UpgradeRequest;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The web demo's authentication: a token (query parameter {@code token}, or a bearer header)
 * names the user, whose name starts with the team; an optional {@code tab} parameter names the tab
 * ({@code red.alice.t1}). No token is 401, an unknown one 403. A real application looks its
 * session up here instead. Stateless.
 */
public final class WebDemoIdentity implements BrowserIdentity {
  /** Demo tokens and their users (team before the first '.'). */
  static final Map<String, String> TOKENS = Map.of(
      "alice-secret", "red.alice",
      "dan-secret", "red.dan",
      "bob-secret", "blue.bob",
      "carol-secret", "staff.carol");
  private static final Pattern TAB = Pattern.compile("[A-Za-z0-9_-]{1,20}");

  @Override
  public Admission identify(UpgradeRequest request) {
    String token = request.parameter("token").or(request::bearerToken).orElse(null);
    if (token == null) {
      return Admission.unauthorized("no token: connect with ?token=...");
    }
    String user = TOKENS.get(token);
    if (user == null) {
      return Admission.forbidden("unknown token");
    }
    String tab = request.parameter("tab").orElse(null);
    if (tab != null && !TAB.matcher(tab).matches()) {
      return Admission.forbidden("a tab is 1 to 20 letters, digits, '_' or '-'");
    }
    return Admission.peer(tab == null ? user : user + "." + tab);
  }
}
