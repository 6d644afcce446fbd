package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.store.ConnectionBudget;
import dev.entanglement.hibernate.RequestEvent;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.ownership.Forwarder;
import dev.entanglement.hibernate.internal.ownership.Handover;
import dev.entanglement.hibernate.internal.ownership.RequestExecutor;
import dev.entanglement.hibernate.internal.core.Ticker;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import java.time.Clock;
import java.time.Instant;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.UpdateRequest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executor;
import org.jboss.logging.Logger;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The ownership rooms' views of the node: the forwarder (routes, sending, held serials), the
 * request executor and the hand-over (serials and publication of the owner's results).
 *
 * <h2>Concurrency</h2>
 * Stateless; every view reads the node's components, which are thread-safe.
 */
final class OwnershipHosts {
  private static final Logger LOG = Logger.getLogger(OwnershipHosts.class);

  private final NodeRuntime node;

  OwnershipHosts(NodeRuntime node) {
    this.node = node;
  }

  /** Loads an object in a session of its own (no transaction), within the plugin's connections. */
  static Object load(NodeRuntime node, EntangledType type, Object id) {
    try (var permit = ConnectionBudget.of(node.factory).enter(); var session = node.factory.openSession()) {
      return session.find(type.persister().getMappedClass(), id);
    }
  }

  Forwarder.Host forwarder() {
    return new Forwarder.Host() {
      @Override
      public String nodeName() {
        return node.config.nodeName();
      }

      @Override
      public String routeTo(String owner) {
        return node.directory.routeTo(owner);
      }

      @Override
      public boolean send(String peer, Envelope envelope) {
        return node.peers.sendUrgent(peer, node.signedRequest(envelope));
      }

      @Override
      public long heldSerial(String key) {
        Bookkeeping.ObjectRow row = node.reads.row(key);
        return row == null ? -1 : row.serial();
      }

      @Override
      public String whyNoRoute(String owner) {
        String why = node.directory.whyNoRoute(owner);
        return why != null ? why : "no route to owner '%s' (its link is not open yet)".formatted(owner);
      }

      @Override
      public Object load(EntangledType type, Object id) {
        return OwnershipHosts.load(node, type, id);
      }

      @Override
      public EntangledType type(String entityName) {
        return node.model.byName(entityName);
      }

      @Override
      public PendingRequestStore store() {
        return node.pendingRequests;
      }

      @Override
      public ScheduledExecutorService scheduler() {
        return node.scheduler;
      }

      @Override
      public Executor pool() {
        return node.pool;
      }

      @Override
      public Duration lifetime() {
        return node.config.requestLifetime();
      }

      @Override
      public int maxPending() {
        return node.config.maxPendingRequests();
      }

      @Override
      public Clock clock() {
        return node.config.wallClock();
      }

      @Override
      public Ticker ticker() {
        return Ticker.system();
      }

      @Override
      public void memberSettled(String member, List<String> requestKeys, RequestEvent event) {
        try {
          node.pendingRequests.recordOutcomes(member, requestKeys,
              MemberRequests.outcomeOf(requestKeys.get(0), event.owner(), event.failure()));
        } catch (RuntimeException e) {
          LOG.warnf("Node '%s' could not record the outcome of update request %s for member %s (it stored it; its "
              + "future fails as outcome unknown after the request's lifetime): %s", node.config.nodeName(),
              requestKeys.get(0), member, e.getMessage());
        }
      }
    };
  }

  RequestExecutor.Host requestExecutor() {
    return new RequestExecutorHost(node);
  }

  Handover.Host handover() {
    return new HandoverHost(node);
  }

  /** The request executor's view: the owner's decisions are this node's own changes. */
  private static final class RequestExecutorHost extends LocalChangesView implements RequestExecutor.Host {
    RequestExecutorHost(NodeRuntime node) {
      super(node);
    }

    @Override
    public Instant now() {
      return node.config.wallClock().instant();
    }

    @Override
    public String deniedObject(String peer, EntangledType type, UpdateRequest request, Object incoming,
        Object stored) {
      return node.policy.objectDenied(peer, type, node.policy.messageOf(type, request), incoming, stored);
    }
  }

  /** The hand-over's view: a hand-over is a change of this node's, waited on with a timeout. */
  private static final class HandoverHost extends LocalChangesView implements Handover.Host {
    HandoverHost(NodeRuntime node) {
      super(node);
    }

    @Override
    public Object load(EntangledType type, Object id) {
      return OwnershipHosts.load(node, type, id);
    }

    @Override
    public ScheduledExecutorService scheduler() {
      return node.scheduler;
    }

    @Override
    public Duration timeout() {
      return node.config.requestTimeout();
    }
  }
}
