package dev.entanglement.hibernate.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;

/** Free TCP ports of the loopback for tests whose nodes listen on fixed addresses (proxies dial them). */
public final class FreePorts {
  private FreePorts() {}

  /** A port free now (another process may take it before the node binds it: rare on a test machine). */
  public static int next() {
    try (ServerSocket socket = new ServerSocket(0)) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("no free port", e);
    }
  }
}
