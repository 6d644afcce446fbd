package dev.entanglement.hibernate.internal.apply;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.model.Values;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ParkedRow;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.SyncMarker;
import dev.entanglement.proto.v1.Value;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.hibernate.StatelessSession;
import org.hibernate.Transaction;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.persister.entity.EntityPersister;
import org.jboss.logging.Logger;

/**
 * Applies peers' changes to the local database through a stateless session (whose writes
 * capture ignores, so nothing echoes), with the bookkeeping rows, the owner positions the batch
 * completes and the changes it had to park, all in the same transaction; answers with one
 * outcome per change. Decoding problems are found before writing; when the database refuses a
 * batch, its changes are applied again one transaction each to single out the culprit.
 *
 * <p>A change that cannot be applied is <em>parked</em> (table {@code entanglement_parked}, with
 * its reason) and retried: after every batch that applied something, and at every compaction
 * interval. A newer state of the object replaces it. Parked changes are what lets positions move
 * on without ever skipping an object unnoticed. Changes that cannot become applicable without a
 * fix at the sender (malformed, unknown entity, not the owner) are rejected but not parked.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: batches are applied one at a time per node ({@code this} is the lock of
 * {@link #apply}, parked retries and owner removal), each peer's in order by that peer's apply
 * executor; the caches ({@code positions}, {@code parkedKeys}) are concurrent and updated after
 * the transaction that wrote the same rows commits.
 */
public final class InboundApplier {
  private static final Logger LOG = Logger.getLogger(InboundApplier.class);
  private static final Set<RejectReason> PARKED_REASONS = EnumSet.of(RejectReason.MISSING_REFERENCE,
      RejectReason.CONSTRAINT_VIOLATION, RejectReason.WRONG_TYPE, RejectReason.UNKNOWN_ATTRIBUTE,
      RejectReason.INTERNAL);

  /** What the node decides around applying: where an owner's changes may come from, and relaying. */
  public interface Hooks {
    /** Null if a change of this owner may come from this peer, else why not. */
    String directionProblem(String owner, String peer);

    /**
     * Called once changes are durably applied and before they count in this node's positions
     * (so that relaying them to other peers is never behind what a position promises).
     *
     * @param peer the peer they came from, or null (a parked change applied on retry)
     */
    void applied(String peer, List<Change> changes);

    /** The policies' denial of a received change at the message stage, or null. */
    default String deniedMessage(String peer, EntangledType type, Change change) {
      return null;
    }

    /**
     * Whether changes and positions of this owner coming from this peer are ignored (answered
     * ALREADY_CURRENT, positions dropped): the owner is connected directly, so its own stream is
     * the one source of its states, and nobody else can speak for it here.
     */
    default boolean relayIgnored(String owner, String peer) {
      return false;
    }

    /** Applies an ephemeral object (in memory); returns its outcome (index left for the caller). */
    default Outcome applyEphemeral(String peer, Change change) {
      return Outcome.newBuilder().setStatus(OutcomeStatus.REJECTED).setReason(RejectReason.UNKNOWN_ENTITY)
          .setMessage("this node keeps no ephemeral objects").build();
    }

    /** Whether the policies decide at the object stage (else no copies are constructed for them). */
    default boolean objectStage() {
      return false;
    }

    /** The policies' denial of a received change at the object stage, or null. */
    default String deniedObject(String peer, EntangledType type, Change change, Object incoming, Object stored) {
      return null;
    }
  }

  private final SessionFactoryImplementor factory;
  private final EntangledModel model;
  private final Bookkeeping bookkeeping;
  private final String nodeName;
  private volatile Hooks hooks = new Hooks() {
    @Override
    public String directionProblem(String owner, String peer) {
      return null;
    }

    @Override
    public void applied(String peer, List<Change> changes) {}
  };
  private final Map<String, Long> positions = new ConcurrentHashMap<>();
  private final Set<String> parkedKeys = ConcurrentHashMap.newKeySet();
  private final AtomicLong parkedRetriesApplied = new AtomicLong();
  private final Set<String> refusedSelfSyncPeers = ConcurrentHashMap.newKeySet();

  public InboundApplier(SessionFactoryImplementor factory, EntangledModel model,
      Bookkeeping bookkeeping, String nodeName) {
    this.factory = factory;
    this.model = model;
    this.bookkeeping = bookkeeping;
    this.nodeName = nodeName;
  }

  public void hooks(Hooks hooks) {
    this.hooks = hooks;
  }

  /** Loads the positions and parked changes kept in the database. */
  public void load() {
    try (StatelessSession session = factory.openStatelessSession()) {
      session.doWork(connection -> {
        positions.putAll(bookkeeping.ownerPositions(connection));
        for (ParkedRow row : bookkeeping.parked(connection, Integer.MAX_VALUE)) {
          parkedKeys.add(row.entity() + '#' + row.id());
        }
      });
    }
  }

  /** How far this node holds each owner's objects (durable). */
  public Map<String, Long> positions() {
    return Map.copyOf(positions);
  }

  public int parkedCount() {
    return parkedKeys.size();
  }

  public long parkedRetriesApplied() {
    return parkedRetriesApplied.get();
  }

  /**
   * Applies the batch; the returned Ack is durable when this returns. Never throws. One batch at
   * a time per node: in a loop (a triangle, a ring) two peers can bring the same object at once,
   * and two concurrent transactions on one row would fail one of them with an optimistic-lock
   * error instead of answering the later copy ALREADY_CURRENT.
   */
  public synchronized Ack apply(String peer, ChangeBatch batch) {
    LOG.debugf("Node '%s' applies %d changes from '%s' (positions %s)", nodeName, batch.getChangesCount(), peer, batch.getPositionsList());
    int count = batch.getChangesCount();
    Outcome[] outcomes = new Outcome[count];
    List<Integer> valid = new ArrayList<>(count);
    // decided once per owner for the whole batch, for its changes and its positions alike: a
    // position from a direction whose changes are refused would skip them
    Map<String, String> directionProblems = new HashMap<>();
    for (int i = 0; i < count; i++) {
      if (batch.getChanges(i).getEphemeral()) {
        outcomes[i] = hooks.applyEphemeral(peer, batch.getChanges(i)).toBuilder().setIndex(i).build();
        continue;
      }
      try {
        check(batch.getChanges(i));
        String denial = peer == null ? null
            : hooks.deniedMessage(peer, model.byName(batch.getChanges(i).getEntity()), batch.getChanges(i));
        if (denial != null) {
          throw new DecodeException(RejectReason.POLICY, denial);
        }
        String owner = batch.getChanges(i).getOwner();
        if (peer != null && hooks.relayIgnored(owner, peer)) {
          outcomes[i] = Outcome.newBuilder().setIndex(i).setStatus(OutcomeStatus.ALREADY_CURRENT).build();
          continue;
        }
        String problem = directionProblems.computeIfAbsent(owner, o -> String.valueOf(hooks.directionProblem(o, peer)));
        if (!problem.equals("null")) {
          throw new DecodeException(RejectReason.NOT_OWNER, problem);
        }
        valid.add(i);
      } catch (DecodeException e) {
        outcomes[i] = rejected(i, e.reason(), e.getMessage());
      }
    }
    List<OwnerPosition> acceptedPositions = new ArrayList<>();
    for (OwnerPosition position : batch.getPositionsList()) {
      if (peer != null && hooks.relayIgnored(position.getOwner(), peer)) {
        continue;
      }
      String problem = directionProblems.computeIfAbsent(position.getOwner(),
          o -> String.valueOf(hooks.directionProblem(o, peer)));
      if (problem.equals("null")) {
        acceptedPositions.add(position);
      }
    }
    Map<String, Long> newPositions = advance(acceptedPositions);
    if (valid.isEmpty() && newPositions.isEmpty() && nothingToPark(batch, outcomes)) {
      return ack(peer, batch, outcomes); // e.g. ephemeral objects only: they never touch the database
    }
    List<String> unparked = new ArrayList<>();
    try {
      try {
        inTransaction((session, connection) -> {
          applyChanges(session, connection, batch, valid, outcomes, unparked, peer);
          finish(connection, batch, outcomes, newPositions, unparked);
        });
      } catch (RuntimeException | SQLException batchFailure) {
        // the database refused something: find out which, one change per transaction
        LOG.debugf(batchFailure, "Node '%s': a batch from '%s' failed as a whole; applying its changes one by one", nodeName, peer);
        unparked.clear();
        for (int i : valid) {
          try {
            outcomes[i] = null;
            List<String> unparkedHere = new ArrayList<>();
            inTransaction((session, connection) -> applyChanges(session, connection, batch, List.of(i), outcomes, unparkedHere, peer));
            unparked.addAll(unparkedHere);
          } catch (RuntimeException | SQLException e) {
            outcomes[i] = databaseRejection(i, batch.getChanges(i), e);
          }
        }
        inTransaction((session, connection) -> finish(connection, batch, outcomes, newPositions, List.of()));
      }
    } catch (RuntimeException | SQLException e) {
      // not even the bookkeeping could be written: answer nothing as applied
      LOG.errorf(e, "Could not apply a batch from peer '%s'", peer);
      for (int i = 0; i < count; i++) {
        if (outcomes[i] == null || outcomes[i].getStatus() != OutcomeStatus.REJECTED) {
          outcomes[i] = rejected(i, RejectReason.INTERNAL, "internal error at the receiver: " + e);
        }
      }
      return ack(peer, batch, outcomes);
    }
    List<Change> applied = new ArrayList<>();
    for (Outcome outcome : outcomes) {
      if (outcome.getStatus() == OutcomeStatus.APPLIED && !batch.getChanges(outcome.getIndex()).getEphemeral()) {
        applied.add(batch.getChanges(outcome.getIndex()));
      }
    }
    if (!applied.isEmpty()) {
      hooks.applied(peer, applied);
    }
    newPositions.forEach((owner, serial) -> positions.merge(owner, serial, Math::max));
    unparked.forEach(parkedKeys::remove);
    for (Outcome outcome : outcomes) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED && PARKED_REASONS.contains(outcome.getReason())) {
        String key = objectKey(batch.getChanges(outcome.getIndex()));
        if (key != null) {
          parkedKeys.add(key);
        }
      }
    }
    boolean appliedSomething = false;
    for (Outcome outcome : outcomes) {
      appliedSomething |= outcome.getStatus() == OutcomeStatus.APPLIED;
    }
    if (appliedSomething && !parkedKeys.isEmpty()) {
      retryParked(100); // e.g. the parent a parked child was missing may just have arrived
    }
    return ack(peer, batch, outcomes);
  }

  private boolean nothingToPark(ChangeBatch batch, Outcome[] outcomes) {
    for (Outcome outcome : outcomes) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED && PARKED_REASONS.contains(outcome.getReason())
          && parkedRow(batch.getChanges(outcome.getIndex()), outcome, 1) != null) {
        return false;
      }
    }
    return true;
  }

  private Ack ack(String peer, ChangeBatch batch, Outcome[] outcomes) {
    Ack.Builder ack = Ack.newBuilder().setRequestId(batch.getRequestId());
    for (Outcome outcome : outcomes) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED && outcome.getReason() != RejectReason.POLICY) {
        Change change = batch.getChanges(outcome.getIndex());
        LOG.warnf("Rejected a change from peer '%s' of %s#%s (%s): %s", peer, change.getEntity(),
            Values.shortText(change.getId()), outcome.getReason(), outcome.getMessage());
      }
      ack.addOutcomes(outcome);
    }
    return ack.build();
  }

  /** The positions to store: never lower than what is held already. */
  private Map<String, Long> advance(List<OwnerPosition> received) {
    Map<String, Long> result = new HashMap<>();
    for (OwnerPosition position : received) {
      if (position.getSerial() > positions.getOrDefault(position.getOwner(), 0L)) {
        result.put(position.getOwner(), position.getSerial());
      }
    }
    return result;
  }

  /** Writes what completes a batch: its parked changes and the positions it reaches. */
  private void finish(Connection connection, ChangeBatch batch, Outcome[] outcomes,
      Map<String, Long> newPositions, List<String> unparked) throws SQLException {
    List<ParkedRow> park = new ArrayList<>();
    for (Outcome outcome : outcomes) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED && PARKED_REASONS.contains(outcome.getReason())) {
        ParkedRow row = parkedRow(batch.getChanges(outcome.getIndex()), outcome, 1);
        if (row != null) {
          park.add(row);
        }
      }
    }
    bookkeeping.park(connection, park);
    bookkeeping.writeOwnerPositions(connection, newPositions);
  }

  private ParkedRow parkedRow(Change change, Outcome outcome, int attempts) {
    EntangledType type = change.getEphemeral() ? null : model.byName(change.getEntity());
    if (type == null) {
      return null;
    }
    try {
      Object id = type.idCodec().decode(change.getId(), type.name() + " id");
      return new ParkedRow(type.name(), type.idText(id), change.getOwner(), change.getSerial(),
          outcome.getReason().name(), outcome.getMessage(), change.toByteArray(), attempts);
    } catch (DecodeException e) {
      return null;
    }
  }

  /** The key {@code entity#id} of a change, or null when it cannot be read. */
  public String objectKey(Change change) {
    // an ephemeral type may have an entity's name at the sender: it is never one of these objects
    EntangledType type = change.getEphemeral() ? null : model.byName(change.getEntity());
    if (type == null) {
      return null;
    }
    try {
      Object id = type.idCodec().decode(change.getId(), "id");
      return id == null ? null : type.key(type.idText(id));
    } catch (DecodeException e) {
      return null;
    }
  }

  /** Checks what can be checked without the database. */
  private void check(Change change) throws DecodeException {
    if (change.getEntity().isEmpty()) {
      throw new DecodeException(RejectReason.MALFORMED, "change without an entity name");
    }
    if (!change.hasId() || change.getId().getKindCase() == Value.KindCase.KIND_NOT_SET
        || change.getId().getKindCase() == Value.KindCase.NULL) {
      throw new DecodeException(RejectReason.MALFORMED, "change of " + change.getEntity() + " without an id");
    }
    if (change.getOwner().isEmpty()) {
      throw new DecodeException(RejectReason.MALFORMED, "change of " + change.getEntity() + " without an owner");
    }
    if (change.getOperation() != Operation.UPSERT && change.getOperation() != Operation.DELETE) {
      throw new DecodeException(RejectReason.MALFORMED, "change of %s with operation %s; expected UPSERT or DELETE"
          .formatted(change.getEntity(), change.getOperation()));
    }
    if (model.byName(change.getEntity()) == null) {
      throw new DecodeException(RejectReason.UNKNOWN_ENTITY,
          "this node has no @Entangled entity named '%s'".formatted(change.getEntity()));
    }
    if (change.getOwner().equals(nodeName)) {
      throw new DecodeException(RejectReason.NOT_OWNER, ("the change claims owner '%s', which is "
          + "this node: only this node decides the state of its own objects").formatted(nodeName));
    }
  }

  /** Work inside one transaction of a stateless session, on its JDBC connection. */
  @FunctionalInterface
  private interface Work {
    void run(StatelessSession session, Connection connection) throws SQLException;
  }

  private void inTransaction(Work work) throws SQLException {
    try (StatelessSession session = factory.openStatelessSession()) {
      Transaction tx = session.beginTransaction();
      try {
        Connection connection = session.doReturningWork(c -> c);
        work.run(session, connection);
        tx.commit();
      } catch (RuntimeException | SQLException e) {
        if (tx.isActive()) {
          tx.rollback();
        }
        throw e;
      }
    }
  }

  private void applyChanges(StatelessSession session, Connection connection, ChangeBatch batch, List<Integer> indexes,
      Outcome[] outcomes, List<String> unparked, String peer) throws SQLException {
    Map<String, ObjectRow> rows = new HashMap<>();
    List<Integer> pending = indexes;
    boolean progress = true;
    // a child may come before its parent in the same batch: retry those after the rest
    while (!pending.isEmpty() && progress) {
      progress = false;
      List<Integer> missingReference = new ArrayList<>();
      for (int i : pending) {
        try {
          outcomes[i] = applyOne(session, connection, i, batch.getChanges(i), rows, peer);
          progress |= outcomes[i].getStatus() == OutcomeStatus.APPLIED;
        } catch (DecodeException e) {
          outcomes[i] = rejected(i, e.reason(), e.getMessage());
          if (e.reason() == RejectReason.MISSING_REFERENCE) {
            missingReference.add(i);
          }
        }
      }
      pending = missingReference;
    }
    // the persister's coordinators may batch statements (PostgreSQL's dialect batches by
    // default): run them before writing the bookkeeping on the same connection
    ((SharedSessionContractImplementor) session).getJdbcCoordinator().executeBatch();
    bookkeeping.writeWithEpoch(connection, new ArrayList<>(rows.values()));
    for (String key : rows.keySet()) {
      if (parkedKeys.contains(key)) {
        int hash = key.indexOf('#');
        bookkeeping.unpark(connection, key.substring(0, hash), key.substring(hash + 1));
        unparked.add(key);
      }
    }
  }

  private Outcome applyOne(StatelessSession session, Connection connection, int index,
      Change change, Map<String, ObjectRow> rows, String peer) throws DecodeException, SQLException {
    EntangledType type = model.byName(change.getEntity());
    Object id = type.idCodec().decode(change.getId(), type.name() + " id");
    String idText = type.idText(id);
    String key = type.key(idText);
    ObjectRow known = rows.containsKey(key) ? rows.get(key) : bookkeeping.read(connection, type.name(), idText);
    if (known != null) {
      long epoch = change.getEpoch();
      if (epoch < known.epoch()) {
        LOG.debugf("Node '%s' has %s at ownership epoch %d (received %d from '%s')", nodeName, key,
            known.epoch(), epoch, change.getOwner());
        return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.ALREADY_CURRENT).build();
      }
      if (epoch > known.epoch()) {
        // a later owner: only the node this node handed the object to may take over its own object
        if (known.owner().equals(nodeName) && !change.getOwner().equals(known.handoverTo())) {
          throw new DecodeException(RejectReason.NOT_OWNER, ("%s is owned by this node ('%s') and was not "
              + "handed over to '%s'; its epoch %d cannot replace epoch %d").formatted(key, nodeName,
              change.getOwner(), epoch, known.epoch()));
        }
      } else {
        if (known.owner().equals(nodeName)) {
          throw new DecodeException(RejectReason.NOT_OWNER, ("%s is owned by this node ('%s'); a "
              + "change claiming owner '%s' cannot overwrite it").formatted(key, nodeName, change.getOwner()));
        }
        // a swept (withdrawn) object keeps its last state's serial: the same state sent again
        // (re-granted, resynchronized) restores it; a real deletion has a serial of its own
        boolean restores = known.deleted() && known.serial() == change.getSerial()
            && change.getOperation() == Operation.UPSERT;
        if (known.owner().equals(change.getOwner()) && known.serial() >= change.getSerial() && !restores) {
          LOG.debugf("Node '%s' already has %s at serial %d (received %d)", nodeName, key, known.serial(), change.getSerial());
          return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.ALREADY_CURRENT).build();
        }
        if (!known.owner().equals(change.getOwner()) && !known.deleted()) {
          throw new DecodeException(RejectReason.NOT_OWNER, ("%s is owned by '%s'; a change from '%s' "
              + "cannot take it over (a hand-over raises the ownership epoch, this change keeps epoch %d)")
              .formatted(key, known.owner(), change.getOwner(), epoch));
        }
      }
    }
    boolean delete = change.getOperation() == Operation.DELETE;
    if (delete) {
      if (peer != null && hooks.objectStage()) {
        Object stored = session.get(type.persister().getEntityName(), id);
        String denial = hooks.deniedObject(peer, type, change, null, stored);
        if (denial != null) {
          throw new DecodeException(RejectReason.POLICY, denial);
        }
      }
      deleteObject(session, type, id);
    } else {
      upsertObject(session, type, id, change, peer);
    }
    rows.put(key, new ObjectRow(type.name(), idText, change.getOwner(), change.getSerial(), delete,
        change.getEpoch(), delete || change.getHandoverTo().isEmpty() ? null : change.getHandoverTo()));
    return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.APPLIED).build();
  }

  private void deleteObject(StatelessSession session, EntangledType type, Object id) {
    Object existing = session.get(type.persister().getEntityName(), id);
    if (existing != null) {
      session.delete(existing);
    }
  }

  private void upsertObject(StatelessSession session, EntangledType type, Object id, Change change, String peer)
      throws DecodeException {
    EntityPersister persister = type.persister();
    SharedSessionContractImplementor implementor = (SharedSessionContractImplementor) session;
    Object existing = session.get(persister.getEntityName(), id);
    Object stored = null;
    boolean objectStage = peer != null && hooks.objectStage();
    if (objectStage && existing != null) {
      stored = copy(persister, implementor, id, existing.getClass() == persister.getMappedClass()
          ? persister.getValues(existing).clone() : null);
    }
    if (existing != null && existing.getClass() != persister.getMappedClass()) {
      if (objectStage) {
        stored = existing;
      }
      session.delete(existing); // the object's subclass changed at the owner
      existing = null;
    }
    Object target = existing != null ? existing : persister.instantiate(id, implementor);
    Object oldVersion = existing != null && persister.isVersioned() ? persister.getVersion(existing) : null;
    Object[] state = type.decode(change.getAttributesList(), persister.getValues(target),
        (referenced, referencedId) -> session.get(referenced.persister().getEntityName(), referencedId));
    if (objectStage) {
      String denial = hooks.deniedObject(peer, type, change, copy(persister, implementor, id, state.clone()), stored);
      if (denial != null) {
        throw new DecodeException(RejectReason.POLICY, denial);
      }
    }
    persister.setValues(target, state);
    // written through the persister as the owner decided it: the id as it is (an insert would
    // generate a new one for @GeneratedValue ids), the version as it is (an update bumps it)
    if (existing == null) {
      persister.getInsertCoordinator().insert(target, id, state, implementor);
    } else {
      persister.getUpdateCoordinator().update(
          target, id, null, state, oldVersion, null, null, false, implementor);
    }
  }

  /** A detached instance with the given state, for policies to look at. */
  private static Object copy(EntityPersister persister, SharedSessionContractImplementor session, Object id, Object[] state) {
    if (state == null) {
      return null;
    }
    Object copy = persister.instantiate(id, session);
    persister.setValues(copy, state);
    return copy;
  }

  // ---- parked changes ---------------------------------------------------------------------

  /** Tries the parked changes again; returns how many could be applied now. Never throws. */
  public synchronized int retryParked(int limit) {
    if (parkedKeys.isEmpty()) {
      return 0;
    }
    List<ParkedRow> rows;
    try (StatelessSession session = factory.openStatelessSession()) {
      rows = session.doReturningWork(connection -> bookkeeping.parked(connection, limit));
    } catch (RuntimeException e) {
      LOG.errorf(e, "Could not read the parked changes");
      return 0;
    }
    int applied = 0;
    for (ParkedRow row : rows) {
      String key = row.entity() + '#' + row.id();
      Change change;
      try {
        change = Change.parseFrom(row.change());
      } catch (InvalidProtocolBufferException e) {
        LOG.errorf("Parked change of %s cannot be read any more; dropping it", key);
        change = null;
      }
      Outcome[] outcome = new Outcome[1];
      ChangeBatch single = change == null ? null : ChangeBatch.newBuilder().addChanges(change).build();
      try {
        if (single != null) {
          check(single.getChanges(0));
        }
        inTransaction((session, connection) -> {
          if (single != null) {
            applyChanges(session, connection, single, List.of(0), outcome, new ArrayList<>(), null);
          }
          if (single == null || outcome[0].getStatus() != OutcomeStatus.REJECTED) {
            bookkeeping.unpark(connection, row.entity(), row.id());
          } else {
            bookkeeping.park(connection, List.of(new ParkedRow(row.entity(), row.id(), row.owner(),
                row.serial(), outcome[0].getReason().name(), outcome[0].getMessage(), row.change(),
                row.attempts() + 1)));
          }
        });
        if (single == null || outcome[0].getStatus() != OutcomeStatus.REJECTED) {
          parkedKeys.remove(key);
          if (outcome[0] != null && outcome[0].getStatus() == OutcomeStatus.APPLIED) {
            hooks.applied(null, List.of(single.getChanges(0)));
            applied++;
            parkedRetriesApplied.incrementAndGet();
            LOG.infof("Applied the parked change of %s on retry %d", key, row.attempts());
          }
        }
      } catch (DecodeException e) {
        dropUnusable(key, row, e.getMessage());
      } catch (RuntimeException | SQLException e) {
        LOG.debugf("Parked change of %s still cannot be applied: %s", key, e.getMessage());
      }
    }
    return applied;
  }

  private void dropUnusable(String key, ParkedRow row, String why) {
    LOG.warnf("Parked change of %s can never apply here (%s); dropping it", key, why);
    try {
      inTransaction((session, connection) -> bookkeeping.unpark(connection, row.entity(), row.id()));
      parkedKeys.remove(key);
    } catch (RuntimeException | SQLException e) {
      LOG.errorf(e, "Could not drop the parked change of %s", key);
    }
  }

  // ---- full synchronization ---------------------------------------------------------------

  /**
   * Ends a full synchronization of an owner: with a sweep, removes the owner's objects this node
   * holds that were not received (the owner no longer has them), then sets the owner's position.
   * Never throws.
   */
  /**
   * Deletes every object of a removed owner (children before parents, retried while progress is
   * made) and forgets the owner. Returns how many objects were deleted. Never throws.
   */
  public synchronized int removeOwner(String owner) {
    int removed = 0;
    try {
      List<ObjectRow> live;
      try (StatelessSession session = factory.openStatelessSession()) {
        live = session.doReturningWork(c -> bookkeeping.liveObjects(c, owner));
      }
      boolean progress = true;
      while (!live.isEmpty() && progress) {
        progress = false;
        List<ObjectRow> left = new ArrayList<>();
        for (ObjectRow row : live) {
          try {
            inTransaction((session, connection) -> {
              EntangledType type = model.byName(row.entity());
              if (type != null) {
                deleteObject(session, type, type.idCodec().parseText(row.id()));
              }
            });
            removed++;
            progress = true;
          } catch (RuntimeException | SQLException e) {
            left.add(row);
          }
        }
        live = left;
      }
      if (!live.isEmpty()) {
        LOG.warnf("Removing owner '%s': %d of its objects could not be deleted here (still referenced?), e.g. %s#%s",
            owner, live.size(), live.get(0).entity(), live.get(0).id());
      }
      inTransaction((session, connection) -> bookkeeping.forgetOwner(connection, owner));
      positions.remove(owner);
      parkedKeys.clear();
      load();
    } catch (RuntimeException | SQLException e) {
      LOG.errorf(e, "Could not remove the objects of owner '%s'", owner);
    }
    return removed;
  }

  public void endFullSync(String peer, SyncMarker end, Set<String> received) {
    String owner = end.getOwner();
    if (owner.equals(nodeName)) {
      if (refusedSelfSyncPeers.add(String.valueOf(peer))) {
        LOG.warnf("Peer '%s' ended a full synchronization of owner '%s', which is this node: refused "
            + "(nothing swept, no position set); only this node decides the state of this node's own objects "
            + "(further such markers from this peer are logged at DEBUG)", peer, owner);
      } else {
        LOG.debugf("Refused again a full synchronization of this node ('%s') from peer '%s'", owner, peer);
      }
      return;
    }
    int removed = 0;
    try {
      if (end.getSweep()) {
        List<ObjectRow> stale = new ArrayList<>();
        try (StatelessSession session = factory.openStatelessSession()) {
          for (ObjectRow row : session.doReturningWork(c -> bookkeeping.liveObjects(c, owner))) {
            if (!received.contains(row.entity() + '#' + row.id()) && row.serial() <= end.getSerial()) {
              stale.add(row);
            }
          }
        }
        // children before parents: retry what a reference still holds while progress is made
        boolean progress = true;
        while (!stale.isEmpty() && progress) {
          progress = false;
          List<ObjectRow> left = new ArrayList<>();
          for (ObjectRow row : stale) {
            try {
              inTransaction((session, connection) -> {
                ObjectRow now = bookkeeping.read(connection, row.entity(), row.id());
                if (now == null || now.deleted() || !now.owner().equals(owner) || now.owner().equals(nodeName)
                    || nodeName.equals(now.handoverTo()) || now.serial() > end.getSerial()) {
                  return; // changed since it was listed: no longer the swept owner's to remove
                }
                EntangledType type = model.byName(row.entity());
                if (type != null) {
                  deleteObject(session, type, type.idCodec().parseText(row.id()));
                }
                bookkeeping.write(connection, List.of(new ObjectRow(row.entity(), row.id(), owner, row.serial(), true)));
              });
              removed++;
              progress = true;
            } catch (RuntimeException | SQLException e) {
              left.add(row);
            }
          }
          stale = left;
        }
        if (!stale.isEmpty()) {
          LOG.warnf("Full synchronization of '%s' from peer '%s': %d objects the owner no longer has "
              + "could not be removed here (still referenced?), e.g. %s#%s", owner, peer, stale.size(),
              stale.get(0).entity(), stale.get(0).id());
        }
      }
      inTransaction((session, connection) -> bookkeeping.writeOwnerPositions(connection, Map.of(owner, end.getSerial())));
      positions.put(owner, end.getSerial());
      LOG.infof("Full synchronization of '%s' from peer '%s' complete through serial %d (%d objects "
          + "received, %d removed)", owner, peer, end.getSerial(), received.size(), removed);
    } catch (RuntimeException | SQLException e) {
      LOG.errorf(e, "Could not complete the full synchronization of '%s' from peer '%s'", owner, peer);
    }
  }

  // ---- failures ---------------------------------------------------------------------------

  private Outcome databaseRejection(int index, Change change, Exception e) {
    String message = dev.entanglement.hibernate.internal.store.SqlErrors.message(e);
    if (message != null) {
      return rejected(index, RejectReason.CONSTRAINT_VIOLATION,
          "the database refused %s: %s".formatted(change.getEntity(), message));
    }
    LOG.errorf(e, "Could not apply a change of %s", change.getEntity());
    return rejected(index, RejectReason.INTERNAL, "internal error at the receiver: " + e);
  }

  private static Outcome rejected(int index, RejectReason reason, String message) {
    return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.REJECTED)
        .setReason(reason).setMessage(message).build();
  }
}
