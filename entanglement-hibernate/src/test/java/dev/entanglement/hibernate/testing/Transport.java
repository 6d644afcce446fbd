package dev.entanglement.hibernate.testing;

import dev.entanglement.hibernate.EntanglementSettings;
import java.util.UUID;

/** How test nodes reach each other: gRPC in-process, or gRPC over Netty on loopback. */
public enum Transport {
  IN_PROCESS,
  NETTY;

  /** Configures a node to listen on a fresh address of this transport. */
  public TestNode.Builder listen(TestNode.Builder builder) {
    if (this == IN_PROCESS) {
      return builder.listenInProcess("node-" + UUID.randomUUID());
    }
    return builder.set(EntanglementSettings.LISTEN, "127.0.0.1:0")
        .set(EntanglementSettings.PLAINTEXT, "true");
  }

  /** Configures a node to dial the given address. */
  public TestNode.Builder dial(TestNode.Builder builder, String address) {
    builder.peers(address);
    if (this == NETTY) {
      builder.set(EntanglementSettings.PLAINTEXT, "true");
    }
    return builder;
  }
}
