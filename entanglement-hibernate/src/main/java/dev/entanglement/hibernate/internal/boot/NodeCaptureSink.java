package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.capture.CaptureSink;
import dev.entanglement.hibernate.internal.ownership.ForwardRequest;
import dev.entanglement.hibernate.internal.ownership.Forwarder;
import dev.entanglement.hibernate.internal.ownership.RequestScope;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.MemberChanges;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Capture's view of the node ({@link CaptureSink}): serials, publication after commit, the
 * ownership map, and the forwarder with its durable requests.
 *
 * <h2>Concurrency</h2>
 * Stateless; called from application threads at commit.
 */
public final class NodeCaptureSink extends LocalChangesView implements CaptureSink {
  NodeCaptureSink(NodeRuntime node) {
    super(node);
  }

  @Override
  public Bookkeeping bookkeeping() {
    return node.bookkeeping;
  }

  @Override
  public String remoteOwner(SharedSessionContractImplementor session, String key) {
    if (node.holding()) {
      return node.ownership.remoteOwner(key);
    }
    // a follower: what the holder applied or handed over since this member started is only in the database
    int hash = key.indexOf('#');
    try {
      Bookkeeping.ObjectRow row = node.bookkeeping.read(
          session.getJdbcCoordinator().getLogicalConnection().getPhysicalConnection(), key.substring(0, hash),
          key.substring(hash + 1));
      if (row == null || row.deleted() || row.effectiveOwner().equals(node.config.nodeName())) {
        return null;
      }
      return row.effectiveOwner();
    } catch (SQLException e) {
      throw new dev.entanglement.hibernate.EntanglementException("Entanglement could not read the owner of %s (%s); "
          .formatted(key, e.getMessage()) + "the transaction is rolled back. Retry it", e);
    }
  }

  @Override
  public long ownEpoch(String key) {
    return node.ownership.ownEpoch(key);
  }

  @Override
  public boolean holdsLinks() {
    return node.holding();
  }

  @Override
  public void recordMemberChanges(Connection connection, List<MemberChanges.Recorded> changes) throws SQLException {
    MemberChanges.record(connection, node.config.nodeName(), node.lease.memberId(), changes,
        node.bookkeeping.postgres());
  }

  @Override
  public String requestsRefused(int count) {
    if (!node.holding()) {
      return null; // the holder takes the rows over as it has room
    }
    return node.forwarder.hasRoom(count) ? null : full(node);
  }

  /** The message of a request refused at once because the node holds as many as it may. */
  static String full(NodeRuntime node) {
    return ("node '%s' holds %d unsettled update requests, the most %s allows (%d); the new request is refused. "
        + "Requests leave when their owners answer or their lifetime ends").formatted(node.config.nodeName(),
        node.forwarder.pendingCount(), EntanglementSettings.REQUEST_MAX_PENDING, node.config.maxPendingRequests());
  }

  @Override
  public List<PendingRequestStore.Row> prepareRequests(List<ForwardRequest> requests) {
    List<PendingRequestStore.Row> rows = new ArrayList<>(requests.size());
    for (ForwardRequest request : requests) {
      rows.add(Forwarder.prepare(node.config.nodeName(), request, node.config.wallClock().instant(),
          node.config.requestLifetime()));
    }
    return rows;
  }

  @Override
  public void storeRequests(Connection connection, List<PendingRequestStore.Row> rows) throws SQLException {
    boolean following = !node.holding();
    // outcomes are written back only where a future waits (an API call); a JPA transaction's do not
    PendingRequestStore.insert(connection, rows, following && RequestScope.active() ? node.lease.memberId() : null,
        following);
  }

  @Override
  public List<CompletableFuture<Object>> forward(List<ForwardRequest> requests, List<PendingRequestStore.Row> rows) {
    if (!node.holding()) {
      // stored: the member holding the links takes the rows over, sends them and writes their outcomes
      List<CompletableFuture<Object>> futures = new ArrayList<>(requests.size());
      for (int i = 0; i < requests.size(); i++) {
        futures.add(node.memberRequests.await(requests.get(i), rows.get(i)));
      }
      return futures;
    }
    List<CompletableFuture<Object>> futures = new ArrayList<>(requests.size());
    for (int i = 0; i < requests.size(); i++) {
      futures.add(node.forwarder.submit(requests.get(i), rows.get(i)));
    }
    return futures;
  }

  @Override
  public void checkServing() {
    String fenced = node.lease.fenced();
    if (fenced != null) {
      throw new dev.entanglement.hibernate.EntanglementException(fenced);
    }
    String lostTo = node.lease.lostTo();
    if (lostTo != null) {
      throw new dev.entanglement.hibernate.EntanglementException(("This application instance no longer serves "
          + "Entanglement node '%s': %s took it over, as this one had not renewed the node's lease in time. The "
          + "transaction is rolled back; restart this instance once the other one is stopped")
          .formatted(node.config.nodeName(), lostTo));
    }
  }

  @Override
  public boolean recordsPriorStates() {
    return !node.policy.engine().isEmpty();
  }

  @Override
  public boolean failClosed() {
    return node.config.captureFailClosed();
  }

  @Override
  public void captureFailed(String what, Throwable cause) {
    node.captureFailures.incrementAndGet();
  }

  @Override
  public void captured(int changes, long nanos) {
    node.metrics.captured(changes, nanos);
  }
}
