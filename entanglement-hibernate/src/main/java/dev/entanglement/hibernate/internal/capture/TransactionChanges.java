package dev.entanglement.hibernate.internal.capture;

import dev.entanglement.hibernate.EntanglementException;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.hibernate.internal.store.ChangeLog;
import dev.entanglement.hibernate.internal.store.MemberChanges;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import dev.entanglement.hibernate.internal.store.PriorStates;
import dev.entanglement.hibernate.internal.store.StateDigest;
import dev.entanglement.hibernate.internal.ownership.ForwardRequest;
import dev.entanglement.hibernate.internal.ownership.RequestScope;
import dev.entanglement.proto.v1.Change;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.engine.spi.TransactionCompletionCallbacks.AfterCompletionCallback;
import org.hibernate.engine.spi.TransactionCompletionCallbacks.BeforeCompletionCallback;
import org.jboss.logging.Logger;

/**
 * The replicated changes of one transaction, one entry per object (later flushes of the same
 * object replace earlier ones). Before completion it writes their bookkeeping rows in the same
 * transaction with one batched statement, and the encoded changes of "send every change" types
 * ({@code coalesce = false}) to the change log (a second statement, only when there are such
 * changes), and its update requests (changes of other nodes' objects) to the pending requests
 * table; after a successful commit it encodes the others and offers all to the peers, and hands
 * the requests to the forwarder. A rollback sends nothing.
 *
 * <h2>Concurrency</h2>
 * Confined to the thread of the session whose transaction it belongs to.
 */
final class TransactionChanges implements BeforeCompletionCallback, AfterCompletionCallback {
  private static final Logger LOG = Logger.getLogger(TransactionChanges.class);

  private final CaptureSink sink;
  private final Runnable onComplete;
  private final Map<String, Captured> changes = new LinkedHashMap<>();
  private final List<Long> serials = new ArrayList<>(2);
  // changes of other nodes' objects: one request per object, attributes merged
  private final Map<String, ForwardRequest> requests = new LinkedHashMap<>();
  /** The requests' durable rows, written before completion; null until then. */
  private List<PendingRequestStore.Row> requestRows;

  /** One object's latest state in this transaction; {@code state} is null for a delete. */
  private static final class Captured {
    final EntangledType type;
    final String idText;
    final Object id;
    Object[] state;
    /** Whether the object was inserted by this transaction (so insert then delete is nothing). */
    final boolean inserted;
    long serial;
    /** The encoded change, made before commit (its digest is written with the bookkeeping row). */
    Change encoded;
    /** The object's state before the transaction (an update's first event), or null. */
    Object[] before;
    /** {@link #before} encoded, when prior states are recorded (the node has send policies). */
    Change previous;

    Captured(EntangledType type, Object id, String idText, Object[] state, boolean inserted) {
      this.type = type;
      this.id = id;
      this.idText = idText;
      this.state = state;
      this.inserted = inserted;
    }
  }

  TransactionChanges(CaptureSink sink, Runnable onComplete) {
    this.sink = sink;
    this.onComplete = onComplete;
  }

  /** @param oldState the object's state before this update (Hibernate's), or null (a deletion, or unknown) */
  void record(EntangledType type, Object id, Object[] state, Object[] oldState) {
    String idText = type.idText(id);
    String key = type.key(idText);
    Captured previous = changes.get(key);
    if (previous == null) {
      // an insert's first event is an insert; an update or delete's first event is not
      Captured first = new Captured(type, id, idText, state, false);
      first.before = oldState == null ? null : oldState.clone(); // the state before the transaction
      changes.put(key, first);
    } else if (state == null && previous.inserted) {
      changes.remove(key); // created and deleted in one transaction: nobody ever saw it
    } else {
      previous.state = state;
    }
  }

  /** Marks the first event of an object as an insert, so that a later delete cancels it. */
  void recordInsert(EntangledType type, Object id, Object[] state) {
    String idText = type.idText(id);
    String key = type.key(idText);
    Captured previous = changes.get(key);
    if (previous == null) {
      changes.put(key, new Captured(type, id, idText, state, true));
    } else {
      previous.state = state;
    }
  }

  void recordRequest(ForwardRequest request) {
    requests.merge(request.key(), request, (earlier, later) -> {
      Map<String, dev.entanglement.proto.v1.Value> merged = new LinkedHashMap<>(earlier.attributes());
      merged.putAll(later.attributes());
      return new ForwardRequest(later.type(), later.id(),
          later.key(), later.owner(), later.kind(), merged,
          earlier.expectedVersion() != null ? earlier.expectedVersion() : later.expectedVersion());
    });
  }

  /**
   * Copies the collections in the captured states while the transaction is open: they are read
   * (a lazy one loaded) now, and the application's later changes to them are not sent as this
   * transaction's.
   */
  private void detachCollections() {
    for (Captured c : changes.values()) {
      c.state = c.type.detachCollections(c.state);
    }
  }

  @Override
  public void doBeforeTransactionCompletion(SharedSessionContractImplementor session) {
    if (!requests.isEmpty() || !changes.isEmpty()) {
      sink.checkServing(); // an instance that lost the node to another must not hand out serials
    }
    if (!requests.isEmpty()) {
      storeRequests(session);
    }
    if (changes.isEmpty()) {
      return;
    }
    refuseHandedOver(session);
    if (!sink.holdsLinks()) {
      recordForHolder(session);
      return;
    }
    long started = System.nanoTime();
    try {
      detachCollections();
      List<ObjectRow> rows = new ArrayList<>(changes.size());
      List<Long> digests = new ArrayList<>(changes.size());
      List<ChangeLog.Entry> logged = new ArrayList<>(0);
      List<PriorStates.Entry> priors = new ArrayList<>(0);
      boolean recordPriors = sink.recordsPriorStates();
      String node = sink.nodeName();
      for (Map.Entry<String, Captured> entry : changes.entrySet()) {
        Captured c = entry.getValue();
        c.serial = sink.nextSerial();
        serials.add(c.serial);
        rows.add(new ObjectRow(c.type.name(), c.idText, node, c.serial, c.state == null));
        // encoded now rather than after commit (the same work, done once): its digest goes with the
        // row, so that adoption can tell a later write behind the plugin's back (docs/adoption.md)
        c.encoded = encode(entry.getKey(), c, node);
        digests.add(StateDigest.of(c.encoded));
        if (!c.type.coalesce()) {
          // every state of such a type is kept until every known peer has it, with the same
          // fail-closed rule as the bookkeeping row: a peer that is away gets the whole sequence
          logged.add(new ChangeLog.Entry(node, c.serial, c.type.name(), c.idText, c.encoded.toByteArray()));
        }
        if (recordPriors && c.before != null && c.state != null) {
          // what a peer may hold of the object until it has this change: a send policy that denies
          // the new state withdraws the object from a peer it allowed this one (also on catch-up)
          c.previous = c.type.upsert(c.id, c.before, node, 0);
          priors.add(new PriorStates.Entry(node, c.serial, c.type.name(), c.idText, c.previous.toByteArray(), false));
        }
      }
      java.sql.Connection connection = session.getJdbcCoordinator().getLogicalConnection().getPhysicalConnection();
      sink.bookkeeping().write(connection, rows, digests);
      sink.bookkeeping().changeLog().append(connection, logged);
      sink.bookkeeping().priorStates().write(connection, priors);
      sink.captured(rows.size(), System.nanoTime() - started);
    } catch (Exception e) {
      sink.captureFailed(changes.size() + " objects", e);
      if (sink.failClosed()) {
        sink.finished(serials); // rolled back: these serials will never be committed
        // as Envers does: a commit whose bookkeeping is missing would be a change peers never get
        throw new EntanglementException(("Entanglement could not write its bookkeeping for %d changed objects (%s); "
            + "the transaction is rolled back so that nothing is committed that its peers would never receive "
            + "(entanglement.capture.on_failure=fail). Retry it").formatted(changes.size(), e.getMessage()), e);
      }
      LOG.errorf(e, "Entanglement could not write its bookkeeping for %d changed objects; committed anyway "
          + "(entanglement.capture.on_failure=log): they reach peers only when written again", changes.size());
    }
  }

  /**
   * A follower's changes: recorded in the same transaction for the member holding the links,
   * which gives them serials and sends them (fail closed, like the bookkeeping).
   */
  private void recordForHolder(SharedSessionContractImplementor session) {
    long started = System.nanoTime();
    try {
      detachCollections();
      String node = sink.nodeName();
      List<MemberChanges.Recorded> recorded = new ArrayList<>(changes.size());
      for (Map.Entry<String, Captured> entry : changes.entrySet()) {
        Captured c = entry.getValue();
        Change change = c.state == null ? c.type.delete(c.id, node, 0) : c.type.upsert(c.id, c.state, node, 0);
        recorded.add(new MemberChanges.Recorded(c.type.name(), c.idText, change.toByteArray()));
      }
      sink.recordMemberChanges(session.getJdbcCoordinator().getLogicalConnection().getPhysicalConnection(), recorded);
      sink.captured(recorded.size(), System.nanoTime() - started);
    } catch (Exception e) {
      sink.captureFailed(changes.size() + " objects", e);
      if (sink.failClosed()) {
        throw new EntanglementException(("Entanglement could not record %d changed objects for the member holding "
            + "the node's links (%s); the transaction is rolled back so that nothing is committed that its peers would "
            + "never receive (entanglement.capture.on_failure=fail). Retry it").formatted(changes.size(), e.getMessage()),
            e);
      }
      LOG.errorf(e, "Entanglement could not record %d changed objects for the member holding the node's links; "
          + "committed anyway (entanglement.capture.on_failure=log): they reach peers only when written again",
          changes.size());
    }
    changes.clear(); // nothing to publish from here: the holder sends them
  }

  /**
   * Writes the transaction's update requests to {@code entanglement_pending_request} in the same
   * transaction, so a request committed here is sent even if this node stops before it left.
   * Fails closed like the bookkeeping; a node holding as many unsettled requests as it may
   * fails the transaction at once, naming the setting.
   */
  private void storeRequests(SharedSessionContractImplementor session) {
    List<ForwardRequest> list = new ArrayList<>(requests.values());
    String full = sink.requestsRefused(list.size());
    if (full != null) {
      throw new EntanglementException(full);
    }
    requestRows = sink.prepareRequests(list);
    try {
      sink.storeRequests(session.getJdbcCoordinator().getLogicalConnection().getPhysicalConnection(), requestRows);
    } catch (Exception e) {
      sink.captureFailed(list.size() + " update requests", e);
      if (sink.failClosed()) {
        throw new EntanglementException(("Entanglement could not record %d update requests (%s); the transaction "
            + "is rolled back so that no change of another node's object is lost unsent "
            + "(entanglement.capture.on_failure=fail). Retry it").formatted(list.size(), e.getMessage()), e);
      }
      LOG.errorf(e, "Entanglement could not record %d update requests; committed anyway "
          + "(entanglement.capture.on_failure=log): they are sent, but lost if this node stops first", list.size());
    }
  }

  /**
   * The one deliberate failure of an application's commit: an object this transaction changed
   * was handed over to another node while the transaction ran. Committing would write a state
   * the new owner never sees (it decides the object from now on), so the transaction is rolled
   * back like an optimistic-lock failure; retried, the change goes to the new owner as a request.
   */
  private void refuseHandedOver(SharedSessionContractImplementor session) {
    for (Map.Entry<String, Captured> entry : changes.entrySet()) {
      String newOwner = sink.remoteOwner(session, entry.getKey());
      if (newOwner != null) {
        throw new EntanglementException(("%s was handed over to node '%s' while this "
            + "transaction ran; the transaction is rolled back. Retry it: the change then goes to '%s' as an "
            + "update request").formatted(entry.getKey(), newOwner, newOwner));
      }
    }
  }

  /** The wire form of an object's change, with its ownership epoch once it was handed over. */
  private Change encode(String key, Captured c, String node) {
    Change change = c.state == null
        ? c.type.delete(c.id, node, c.serial)
        : c.type.upsert(c.id, c.state, node, c.serial);
    long epoch = sink.ownEpoch(key);
    return epoch > 0 ? change.toBuilder().setEpoch(epoch).build() : change;
  }

  @Override
  public void doAfterTransactionCompletion(boolean success, SharedSessionContractImplementor session) {
    onComplete.run();
    try {
      if (success && !changes.isEmpty()) {
        publish();
      }
      if (success && requestRows != null) {
        try {
          sink.forward(new ArrayList<>(requests.values()), requestRows).forEach(RequestScope::collect);
        } catch (RuntimeException e) {
          LOG.errorf(e, "Entanglement could not forward %d update requests", requests.size());
        }
      }
    } finally {
      // only now: every serial below the lowest unfinished one is in the outboxes (or rolled back)
      sink.finished(serials);
    }
  }

  private void publish() {
    try {
      List<Outgoing> outgoing = new ArrayList<>(changes.size());
      String node = sink.nodeName();
      for (Map.Entry<String, Captured> entry : changes.entrySet()) {
        Captured c = entry.getValue();
        Change change = c.encoded != null ? c.encoded : encode(entry.getKey(), c, node);
        outgoing.add(new Outgoing(entry.getKey(), c.type.priority(), c.type.coalesce(), change, c.previous));
      }
      sink.publish(outgoing);
    } catch (RuntimeException e) {
      LOG.errorf(e, "Entanglement could not offer %d committed changes to its peers; they read them from the "
          + "database after a backoff", changes.size());
      sink.captureFailed(changes.size() + " objects", e);
      // before the serials finish: no peer's position may pass what it did not get
      sink.notPublished(serials.stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE), e);
    }
  }
}
