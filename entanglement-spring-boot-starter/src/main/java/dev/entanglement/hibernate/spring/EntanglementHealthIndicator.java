package dev.entanglement.hibernate.spring;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.PeerStatus;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * The node's health for Actuator: DOWN while a peer it dials ({@code entanglement.peers}) has no
 * open stream (the peer is down or unreachable: listed under {@code unconnected}), UP otherwise; the details give each peer's state and outbox depth (the
 * changes not yet acknowledged: the lag), the total lag and the parked changes (received but not
 * applicable yet). Reads the database for the parked count.
 */
final class EntanglementHealthIndicator extends AbstractHealthIndicator {
  private final Entanglement node;
  private final List<String> configuredPeers;

  EntanglementHealthIndicator(Entanglement node, List<String> configuredPeers) {
    super("Entanglement health check failed");
    this.node = node;
    this.configuredPeers = List.copyOf(configuredPeers);
  }

  @Override
  protected void doHealthCheck(Health.Builder builder) {
    List<PeerStatus> peers = node.peers();
    Map<String, Object> details = new LinkedHashMap<>();
    long lag = 0;
    Set<String> unconnected = new TreeSet<>(configuredPeers);
    for (PeerStatus peer : peers) {
      if (peer.state() == PeerStatus.State.STREAMING) {
        unconnected.remove(peer.address());
      }
      lag += peer.outboxDepth();
      details.put(peer.name() != null ? peer.name() : peer.address(),
          Map.of("state", peer.state().name(), "dialed", peer.dialed(), "lag", peer.outboxDepth()));
    }
    builder.status(!unconnected.isEmpty() ? org.springframework.boot.health.contributor.Status.DOWN
        : org.springframework.boot.health.contributor.Status.UP);
    builder.withDetail("node", node.nodeName())
        .withDetail("peers", details)
        .withDetail("unconnected", List.copyOf(unconnected))
        .withDetail("lag", lag)
        .withDetail("parked", node.parkedChanges());
  }
}
