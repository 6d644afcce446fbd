package dev.entanglement.hibernate.internal.transport;

/**
 * Where a node listens or a peer is dialed: a TCP {@code host:port}, or an in-process name.
 *
 * @param host the host name or address; the in-process name for in-process addresses
 * @param port the TCP port, or -1 for in-process addresses
 */
public record PeerAddress(String host, int port) {
  private static final String IN_PROCESS = "inprocess:";

  /**
   * Parses {@code host:port}, {@code [ipv6]:port} or {@code inprocess:NAME}.
   *
   * @throws IllegalArgumentException saying what is expected
   */
  public static PeerAddress parse(String text) {
    String value = text.trim();
    if (value.startsWith(IN_PROCESS)) {
      String name = value.substring(IN_PROCESS.length());
      if (name.isBlank()) {
        throw new IllegalArgumentException("inprocess: followed by a name");
      }
      return new PeerAddress(name, -1);
    }
    int colon = value.lastIndexOf(':');
    if (colon <= 0 || colon == value.length() - 1) {
      throw new IllegalArgumentException("host:port (e.g. 127.0.0.1:7400) or inprocess:NAME");
    }
    String host = value.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("host:port with a numeric port from 0 to 65535");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("host:port with a port from 0 to 65535");
    }
    return new PeerAddress(host, port);
  }

  public static PeerAddress inProcess(String name) {
    return new PeerAddress(name, -1);
  }

  /** Whether this is a TCP address (as opposed to an in-process one). */
  public boolean isNetwork() {
    return port >= 0;
  }

  @Override
  public String toString() {
    if (!isNetwork()) {
      return IN_PROCESS + host;
    }
    return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
  }
}
