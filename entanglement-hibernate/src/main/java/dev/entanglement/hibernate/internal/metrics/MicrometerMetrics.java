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
import java.util.function.ToDoubleFunction;

/**
 * The node's Micrometer meters, tagged {@code node} (and {@code peer} for per-peer ones):
 * capture and apply rates and latencies, per peer the figures of the admin API, and rejections
 * by peer, side and reason. Loaded only when Micrometer is present (see {@link NodeMetrics#create}).
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
  /**
   * A peer's meters, and the figures its gauges read: Micrometer holds gauge state weakly, so
   * the figures are kept here until the peer's stream ends (else a reading could be NaN).
   */
  private record PeerMeters(List<Meter> meters, PeerFigures figures) {}

  private final Map<PeerConnection, PeerMeters> peerMeters = new ConcurrentHashMap<>();

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

  @Override
  public void changeLog(java.util.function.LongSupplier size) {
    // a node restarted on the same registry: its earlier gauge would read the stopped node
    registry.find("entanglement.changelog.entries").tags(node).meters().forEach(registry::remove);
    Gauge.builder("entanglement.changelog.entries", size, s -> s.getAsLong()).tags(node)
        .description("changes of coalesce=false types kept until every known peer has acknowledged them "
            + "(counted by housekeeping; -1 before its first round)").strongReference(true).register(registry);
  }

  @Override
  public void withdrawal(boolean sent) {
    Counter.builder("entanglement.withdrawals").tags(node).tag("direction", sent ? "sent" : "applied")
        .description("withdrawals: objects a change made denied, sent to peers that may hold them, or removed here")
        .register(registry).increment();
  }

  static NodeMetrics bind(String nodeName, Object registry) {
    if (registry != null && !(registry instanceof MeterRegistry)) {
      throw new EntanglementConfigurationException("Setting %s holds a %s; expected an io.micrometer MeterRegistry"
          .formatted(EntanglementSettings.METRICS_REGISTRY, registry.getClass().getName()));
    }
    return new MicrometerMetrics(registry == null ? Metrics.globalRegistry : (MeterRegistry) registry, nodeName);
  }

  @Override
  public void adopted(String entity, int announced, int skipped) {
    Counter.builder("entanglement.adoption.rows").tags(node).tag("entity", entity).tag("outcome", "announced")
        .description("existing rows adoption announced as this node's objects").register(registry).increment(announced);
    Counter.builder("entanglement.adoption.rows").tags(node).tag("entity", entity).tag("outcome", "skipped")
        .description("existing rows adoption left alone (known, or another node's)").register(registry)
        .increment(skipped);
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
  public void rejected(String peer, boolean here, String reason) {
    Counter.builder("entanglement.peer.rejections")
        .description("changes rejected, by the peer (side=peer) or here (side=here), by reason")
        .tags(node.and("peer", peer, "side", here ? "here" : "peer", "reason", reason))
        .register(registry).increment();
  }

  @Override
  public void peerConnected(PeerConnection c, PeerFigures figures) {
    Tags tags = node.and("peer", c.peerName());
    List<Meter> meters = new ArrayList<>();
    meters.add(gauge("entanglement.peer.outbox.depth", "changes waiting to be sent", tags, c, PeerConnection::outboxDepth));
    meters.add(gauge("entanglement.peer.paused", "1 while an operator has paused the flow", tags, c, p -> p.paused() ? 1 : 0));
    meters.add(Gauge.builder("entanglement.peer.lag.serials", figures, PeerFigures::lagSerials).tags(tags)
        .description("this node's serials the peer has not acknowledged").register(registry));
    meters.add(Gauge.builder("entanglement.peer.lag.objects", figures, MicrometerMetrics::lagObjects).tags(tags)
        .description("this node's objects changed beyond what the peer acknowledged (counted in the database when read)")
        .register(registry));
    meters.add(FunctionCounter.builder("entanglement.peer.policy.denials", figures, PeerFigures::policyDenials).tags(tags)
        .description("changes the policies kept from or refused to the peer").register(registry));
    meters.add(counter("entanglement.peer.changes.sent", "changes sent", tags, c, s -> s.stats().changesSent()));
    meters.add(counter("entanglement.peer.changes.received", "changes received", tags, c, s -> s.stats().changesReceived()));
    meters.add(counter("entanglement.peer.changes.applied", "received changes applied", tags, c, s -> s.stats().changesAppliedHere()));
    meters.add(counter("entanglement.peer.changes.coalesced", "changes merged into a waiting one", tags, c, PeerConnection::coalesced));
    meters.add(counter("entanglement.peer.rejected.by.peer", "changes the peer rejected", tags, c, s -> s.stats().changesRejectedByPeer()));
    meters.add(counter("entanglement.peer.rejected.here", "received changes rejected here", tags, c, s -> s.stats().changesRejectedHere()));
    meters.add(counter("entanglement.peer.bytes.sent", "bytes sent", tags, c, s -> s.stats().bytesSent()));
    meters.add(counter("entanglement.peer.bytes.received", "bytes received", tags, c, s -> s.stats().bytesReceived()));
    peerMeters.put(c, new PeerMeters(meters, figures));
  }

  private static double lagObjects(PeerFigures figures) {
    try {
      return figures.lagObjects();
    } catch (RuntimeException e) { // the database is away or the node is stopping: no figure
      return Double.NaN;
    }
  }

  private Meter gauge(String name, String description, Tags tags, PeerConnection c, ToDoubleFunction<PeerConnection> value) {
    return Gauge.builder(name, c, value).description(description).tags(tags).register(registry);
  }

  private Meter counter(String name, String description, Tags tags, PeerConnection c, ToDoubleFunction<PeerConnection> value) {
    return FunctionCounter.builder(name, c, value).description(description).tags(tags).register(registry);
  }

  @Override
  public void peerGone(PeerConnection c) {
    PeerMeters gone = peerMeters.remove(c);
    if (gone != null) {
      gone.meters().forEach(registry::remove);
    }
  }
}
