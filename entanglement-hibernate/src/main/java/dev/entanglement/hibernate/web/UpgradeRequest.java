package dev.entanglement.hibernate.web;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A read-only view of a browser's WebSocket upgrade request, for {@link BrowserIdentity}.
 * Immutable: the maps and lists are unmodifiable copies.
 *
 * @param path the request path without the query ({@code /entanglement})
 * @param query the query parameters, decoded, each name with its values in order
 * @param headers the request headers, names in lower case, each with its values in order
 * @param cookies the cookies of the {@code Cookie} header, by name (the first of a repeated name)
 * @param remoteAddress the client's address as this node sees it (a proxy's, behind one)
 * @param secure whether the connection is TLS
 */
public record UpgradeRequest(String path, Map<String, List<String>> query, Map<String, List<String>> headers,
    Map<String, String> cookies, InetSocketAddress remoteAddress, boolean secure) {
  public UpgradeRequest {
    query = copy(query);
    headers = copy(headers);
    cookies = Map.copyOf(cookies);
  }

  private static Map<String, List<String>> copy(Map<String, List<String>> values) {
    Map.Entry<String, List<String>>[] entries = values.entrySet().stream()
        .map(e -> Map.entry(e.getKey(), List.copyOf(e.getValue()))).toArray(Map.Entry[]::new);
    return Map.ofEntries(entries);
  }

  /** The first value of a query parameter. */
  public Optional<String> parameter(String name) {
    List<String> values = query.get(name);
    return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
  }

  /** The first value of a header (the name in any case). */
  public Optional<String> header(String name) {
    List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
    return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
  }

  /** A cookie's value. */
  public Optional<String> cookie(String name) {
    return Optional.ofNullable(cookies.get(name));
  }

  /**
   * The token of an {@code Authorization: Bearer <token>} header. Browsers cannot set headers on a
   * WebSocket: their clients put the token in a query parameter or a cookie instead.
   */
  public Optional<String> bearerToken() {
    return header("authorization").filter(value -> value.regionMatches(true, 0, "Bearer ", 0, 7))
        .map(value -> value.substring(7).trim()).filter(token -> !token.isEmpty());
  }
}
