package dev.entanglement.benchmarks.support;

import dev.entanglement.hibernate.EntanglementSettings;
import java.util.Map;
import java.util.UUID;

/** How two nodes of one JVM talk: gRPC's in-process transport, or Netty over TCP loopback. */
public enum Transport {
  IN_PROCESS("in-process"),
  NETTY("netty loopback");

  private final String label;

  Transport(String label) {
    this.label = label;
  }

  /** The listening node's settings: a unique in-process name, or a free loopback port. */
  Map<String, String> listen() {
    return this == IN_PROCESS
        ? Map.of(EntanglementSettings.LISTEN, "inprocess:bench-" + UUID.randomUUID())
        : Map.of(EntanglementSettings.LISTEN, "127.0.0.1:0", EntanglementSettings.PLAINTEXT, "true");
  }

  /** The settings a node needs to dial over this transport at runtime ({@code Entanglement.connect}). */
  Map<String, String> dialer() {
    return this == IN_PROCESS ? Map.of() : Map.of(EntanglementSettings.PLAINTEXT, "true");
  }

  /** The dialing node's settings for a listening node's address. */
  Map<String, String> dial(String address) {
    return this == IN_PROCESS
        ? Map.of(EntanglementSettings.PEERS, address)
        : Map.of(EntanglementSettings.PEERS, address, EntanglementSettings.PLAINTEXT, "true");
  }

  @Override
  public String toString() {
    return label;
  }
}
