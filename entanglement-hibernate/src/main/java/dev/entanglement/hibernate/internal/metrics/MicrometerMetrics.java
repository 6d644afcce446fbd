package dev.entanglement.hibernate.internal.metrics;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.internal.peer.PeerConnection;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;

/**
 * The node's Micrometer meters, tagged {@code node} (and {@code peer} for per-peer ones):
 * capture and apply rates and latencies, and per peer the figures of the admin API. Loaded only
 * when Micrometer is present.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: Micrometer meters are; the per-peer meter lists are a concurrent map.
 */
final class MicrometerMetrics implements NodeMetrics {
  private final MeterRegistry registry;
  private final Tags node;
  private final Timer captureTimer;
  private final Counter captureChanges;
  private final Timer applyTimer;
  private final Counter applyChanges;
  private final Map<PeerConnection, List<Meter>> peerMeters = new ConcurrentHashMap<>();

  private MicrometerMetrics(MeterRegistry registry, String nodeName) {
    this.registry = registry;
    this.node = Tags.of("node", nodeName);
    this.captureTimer = Timer.builder("entanglement.capture.bookkeeping")
        .description("time a committing transaction spends writing the bookkeeping of its captured changes")
        .tags(node).register(registry);
    this.captureChanges = Counter.builder("entanglement.capture.changes")
        .description("changes of replicated entities captured from committed transactions").tags(node).register(registry);
    this.applyTimer = Timer.builder("entanglement.apply.batch")
        .description("time to apply one batch of changes received from a peer, durably").tags(node).register(registry);
    this.applyChanges = Counter.builder("entanglement.apply.changes")
        .description("changes received from peers and applied").tags(node).register(registry);
    Gauge.builder("entanglement.peers.connected", peerMeters, m -> m.size()).tags(node)
        .description("peers with an open stream").register(registry);
  }

  static NodeMetrics bind(String nodeName, Object registry) {
    if (registry != null && !(registry instanceof MeterRegistry)) {
      throw new EntanglementConfigurationException("Setting %s holds a %s; expected an io.micrometer MeterRegistry"
          .formatted(EntanglementSettings.METRICS_REGISTRY, registry.getClass().getName()));
    }
    return new MicrometerMetrics(registry == null ? Metrics.globalRegistry : (MeterRegistry) registry, nodeName);
  }

  @Override
  public void captured(int changes, long nanos) {
    captureTimer.record(nanos, TimeUnit.NANOSECONDS);
    captureChanges.increment(changes);
  }

  @Override
  public void applied(int changes, long nanos) {
    applyTimer.record(nanos, TimeUnit.NANOSECONDS);
    applyChanges.increment(changes);
  }

  @Override
  public void peerConnected(PeerConnection c, LongSupplier lagSerials) {
    Tags tags = node.and("peer", c.peerName());
    List<Meter> meters = new ArrayList<>();
    meters.add(gauge("entanglement.peer.outbox.depth", "changes waiting to be sent", tags, c, PeerConnection::outboxDepth));
    meters.add(Gauge.builder("entanglement.peer.lag.serials", lagSerials, s -> s.getAsLong()).tags(tags)
        .description("this node's serials the peer has not acknowledged").register(registry));
    meters.add(counter("entanglement.peer.changes.sent", "changes sent", tags, c, PeerConnection::changesSent));
    meters.add(counter("entanglement.peer.changes.received", "changes received", tags, c, PeerConnection::changesReceived));
    meters.add(counter("entanglement.peer.changes.applied", "received changes applied", tags, c, PeerConnection::changesAppliedHere));
    meters.add(counter("entanglement.peer.changes.coalesced", "changes merged into a waiting one", tags, c, PeerConnection::coalesced));
    meters.add(counter("entanglement.peer.rejected.by.peer", "changes the peer rejected", tags, c, PeerConnection::changesRejectedByPeer));
    meters.add(counter("entanglement.peer.rejected.here", "received changes rejected here", tags, c, PeerConnection::changesRejectedHere));
    meters.add(counter("entanglement.peer.bytes.sent", "bytes sent", tags, c, PeerConnection::bytesSent));
    meters.add(counter("entanglement.peer.bytes.received", "bytes received", tags, c, PeerConnection::bytesReceived));
    peerMeters.put(c, meters);
  }

  private Meter gauge(String name, String description, Tags tags, PeerConnection c, ToDoubleFunction<PeerConnection> value) {
    return Gauge.builder(name, c, value).description(description).tags(tags).register(registry);
  }

  private Meter counter(String name, String description, Tags tags, PeerConnection c, ToDoubleFunction<PeerConnection> value) {
    return FunctionCounter.builder(name, c, value).description(description).tags(tags).register(registry);
  }

  @Override
  public void peerGone(PeerConnection c) {
    List<Meter> meters = peerMeters.remove(c);
    if (meters != null) {
      meters.forEach(registry::remove);
    }
  }
}
