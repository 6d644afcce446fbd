package dev.entanglement.hibernate.internal.capture;

import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.ownership.ForwardRequest;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import dev.entanglement.hibernate.internal.store.MemberChanges;
import java.sql.Connection;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import java.sql.SQLException;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** What capture needs from the running node. Implementations are thread-safe. */
public interface CaptureSink {
  String nodeName();

  Bookkeeping bookkeeping();

  /**
   * Throws (failing the application's commit) if this instance no longer serves the node:
   * another instance took the node's lease over.
   */
  default void checkServing() {}

  /** The next serial for this node's own objects; unfinished until {@link #finished}. */
  long nextSerial();

  /** The transaction that took these serials has completed (committed and published, or not). */
  void finished(List<Long> serials);

  /** Offers committed changes to every connected peer. Never blocks on the network. */
  void publish(List<Outgoing> changes);

  /**
   * The committed changes of a transaction could not be offered to the peers (making them
   * failed): the peers' positions of this node stay below {@code lowestSerial}, and they read the
   * changes from the database after a backoff. Never throws.
   */
  default void notPublished(long lowestSerial, Throwable cause) {}

  /**
   * The node that decides an object another node owns (or is being handed to), or null for this
   * node's own object or a new one. A follower reads it in the session's transaction (its memory
   * does not follow what the holder applies).
   */
  String remoteOwner(SharedSessionContractImplementor session, String key);

  /** The ownership epoch of one of this node's own objects (0 unless it was handed over before). */
  long ownEpoch(String key);

  /**
   * Whether this member holds the node's links. A follower gives its changes no serials: it
   * records them ({@link #recordMemberChanges}) for the holder, which stamps and sends them.
   */
  default boolean holdsLinks() {
    return true;
  }

  /** A follower's changes, recorded in the committing transaction for the holder. */
  default void recordMemberChanges(Connection connection, List<MemberChanges.Recorded> changes) throws SQLException {
    throw new UnsupportedOperationException("only a follower records member changes");
  }

  /**
   * Why {@code count} more update requests cannot be taken now (the node holds as many as
   * {@code entanglement.request.max_pending} allows), or null.
   */
  String requestsRefused(int count);

  /** The durable rows of new update requests, each with a fresh request key (nothing written). */
  List<PendingRequestStore.Row> prepareRequests(List<ForwardRequest> requests);

  /** Writes update requests in the committing transaction (fail closed, like the bookkeeping). */
  void storeRequests(Connection connection, List<PendingRequestStore.Row> rows) throws SQLException;

  /**
   * Sends committed (and stored) changes of other nodes' objects to their owners. Never blocks
   * on the network; returns one future per request.
   */
  List<CompletableFuture<Object>> forward(List<ForwardRequest> requests, List<PendingRequestStore.Row> rows);

  /**
   * Whether updated objects' states before the transaction are recorded (in
   * {@code entanglement_prior_state}, same transaction) and sent with their changes: true while
   * the node has send policies, which may deny a new state a peer held the old one of (it then
   * gets a withdrawal; docs/design/withdrawal.md).
   */
  default boolean recordsPriorStates() {
    return false;
  }

  /**
   * Whether a failed bookkeeping write fails the application's transaction
   * ({@code entanglement.capture.on_failure=fail}, the default) rather than only being logged.
   */
  default boolean failClosed() {
    return true;
  }

  /** Called when capture failed and peers may have missed a change. Never throws. */
  void captureFailed(String what, Throwable cause);

  /** A transaction wrote the bookkeeping of its captured changes (for metrics). */
  default void captured(int changes, long nanos) {}
}
