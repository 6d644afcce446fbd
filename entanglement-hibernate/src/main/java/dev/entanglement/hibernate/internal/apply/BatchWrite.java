package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.apply.InboundApplier.Hooks;
import dev.entanglement.hibernate.internal.apply.StateOrdering.Decision;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.hibernate.internal.store.PriorStates;
import dev.entanglement.proto.v1.Operation;
import java.util.IdentityHashMap;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hibernate.StatelessSession;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.jboss.logging.Logger;

/**
 * Writes validated changes inside the caller's open transaction: each is ordered against its
 * bookkeeping row ({@link StateOrdering}), written ({@link EntityWriter}), and the rows of what
 * was written are recorded in the same transaction. A child that comes before its parent in the
 * same batch is tried again after the others.
 *
 * <p>Immutable, so thread-safe; the session and the outcomes array belong to the caller.
 */
final class BatchWrite {
  private static final Logger LOG = Logger.getLogger(BatchWrite.class);

  private final EntangledModel model;
  private final Bookkeeping bookkeeping;
  private final String nodeName;
  private final EntityWriter writer;

  BatchWrite(EntangledModel model, Bookkeeping bookkeeping, String nodeName, EntityWriter writer) {
    this.model = model;
    this.bookkeeping = bookkeeping;
    this.nodeName = nodeName;
    this.writer = writer;
  }

  /**
   * Applies the changes at {@code indexes} of the batch, setting their outcomes.
   *
   * @param peer the peer they came from, or null (a parked change applied on retry)
   * @param verifyOwners owners whose changes are compared with the rows held even when the
   *     bookkeeping says they are current ({@link ContentCheck}), and rewritten when they differ
   * @param newWhenUnknown whether an object the bookkeeping has no live row of is inserted
   *     without reading it first: true for a batch's first try (a row written behind the plugin's
   *     back then fails the insert, and the caller tries the changes again one at a time with this
   *     false, reading each)
   * @return the keys ({@code entity#id}) of the objects whose bookkeeping rows were written
   * @throws SQLException (or a runtime exception) when the database refuses: the caller rolls back
   */
  Set<String> run(StatelessSession session, Connection connection, ChangeBatch batch, List<Integer> indexes,
      Outcome[] outcomes, String peer, Hooks hooks, Set<String> verifyOwners, boolean newWhenUnknown)
      throws SQLException {
    return run(session, connection, batch, indexes, outcomes, peer, hooks, verifyOwners, newWhenUnknown,
        new IdentityHashMap<>(), identitySet());
  }

  /** A set of changes by identity (two equal changes of one batch are still two writes). */
  static Set<Change> identitySet() {
    return Collections.newSetFromMap(new IdentityHashMap<>());
  }

  /**
   * As above, recording in {@code priors} (by applied change) the state this node held before each
   * change that replaced or withdrew it, when a withdrawal may follow from it: always for a
   * withdrawal (the peers this node gave its copy to may hold it), and for a newer state while
   * the hooks record prior states (this node has send policies). They are also written to
   * {@code entanglement_prior_state} in the same transaction, for catch-ups (see
   * docs/design/withdrawal.md). Adds to {@code inserted} the applied upserts of objects this node
   * did not hold (no live bookkeeping row): the change listeners hear them as inserted.
   */
  Set<String> run(StatelessSession session, Connection connection, ChangeBatch batch, List<Integer> indexes,
      Outcome[] outcomes, String peer, Hooks hooks, Set<String> verifyOwners, boolean newWhenUnknown,
      Map<Change, Change> priors, Set<Change> inserted) throws SQLException {
    Map<String, ObjectRow> rows = new LinkedHashMap<>();
    List<PriorStates.Entry> priorRows = new ArrayList<>(0);
    Map<String, Change> signed = new LinkedHashMap<>();
    Map<String, ObjectRow> stored = readRows(connection, batch, indexes);
    List<Integer> pending = indexes;
    boolean progress = true;
    while (!pending.isEmpty() && progress) {
      progress = false;
      List<Integer> missingReference = new ArrayList<>();
      for (int i : pending) {
        try {
          outcomes[i] = applyOne(session, connection, i, batch.getChanges(i), rows, stored, peer, hooks, verifyOwners,
              newWhenUnknown, priors, priorRows, signed, inserted);
          progress |= outcomes[i].getStatus() == OutcomeStatus.APPLIED;
        } catch (DecodeException e) {
          outcomes[i] = Outcomes.rejected(i, e.reason(), e.getMessage());
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
    bookkeeping.priorStates().write(connection, priorRows);
    if (!signed.isEmpty()) {
      // signed state: the owner's signed change beside the row, for this relay's catch-ups
      List<Change> changes = new ArrayList<>(signed.values());
      List<String> ids = new ArrayList<>(signed.size());
      for (String key : signed.keySet()) {
        ids.add(rows.get(key).id());
      }
      bookkeeping.writeSignedChanges(connection, changes, ids);
    }
    return rows.keySet();
  }

  /**
   * The bookkeeping rows of the batch's objects, one statement per entity type (up to a chunk of
   * ids): by key, with null for objects this node never had. Changes whose id cannot be decoded
   * are left out (they are rejected when applied).
   */
  private Map<String, ObjectRow> readRows(Connection connection, ChangeBatch batch, List<Integer> indexes)
      throws SQLException {
    Map<EntangledType, List<String>> idsByType = new LinkedHashMap<>();
    for (int i : indexes) {
      Change change = batch.getChanges(i);
      EntangledType type = model.byName(change.getEntity());
      try {
        idsByType.computeIfAbsent(type, t -> new ArrayList<>())
            .add(type.idText(type.idCodec().decode(change.getId(), type.name() + " id")));
      } catch (DecodeException e) {
        // rejected when it is applied
      }
    }
    Map<String, ObjectRow> stored = new HashMap<>();
    for (Map.Entry<EntangledType, List<String>> entry : idsByType.entrySet()) {
      EntangledType type = entry.getKey();
      Map<String, ObjectRow> found = bookkeeping.readAll(connection, type.name(), entry.getValue());
      for (String idText : entry.getValue()) {
        stored.put(type.key(idText), found.get(idText));
      }
    }
    return stored;
  }

  private Outcome applyOne(StatelessSession session, Connection connection, int index, Change change,
      Map<String, ObjectRow> rows, Map<String, ObjectRow> stored, String peer, Hooks hooks, Set<String> verifyOwners,
      boolean newWhenUnknown, Map<Change, Change> priors, List<PriorStates.Entry> priorRows,
      Map<String, Change> signed, Set<Change> inserted) throws DecodeException, SQLException {
    EntangledType type = model.byName(change.getEntity());
    Object id = type.idCodec().decode(change.getId(), type.name() + " id");
    String idText = type.idText(id);
    String key = type.key(idText);
    ObjectRow known = rows.containsKey(key) ? rows.get(key)
        : stored.containsKey(key) ? stored.get(key) : bookkeeping.read(connection, type.name(), idText);
    Decision decision = StateOrdering.decide(nodeName, key, known, change);
    switch (decision.verdict()) {
      case ALREADY_CURRENT -> {
        if (verifyOwners.contains(change.getOwner()) && ContentCheck.sameState(known, change)) {
          String difference = ContentCheck.difference(session, type, id, change);
          if (difference != null) {
            // the bookkeeping row stays as it is: the same state, written again; the policies
            // decided when it was first received (as for a parked change)
            writer.write(session, type, id, change, null, hooks, false);
            LOG.debugf("Repaired %s from '%s' at serial %d: %s", key, peer, change.getSerial(), difference);
            return Outcomes.repaired(index, key + ": " + difference);
          }
        }
        LOG.debug(decision.message());
        return Outcomes.alreadyCurrent(index);
      }
      case REJECT -> throw new DecodeException(decision.reason(), decision.message());
      case APPLY -> {
        boolean withdrawal = change.getOperation() == Operation.WITHDRAW;
        if (known != null && !known.deleted() && change.getOperation() != Operation.DELETE
            && (withdrawal || hooks.recordsPriorStates())) {
          Change prior = storedState(session, type, id, known);
          if (prior != null) {
            priors.put(change, prior);
            priorRows.add(new PriorStates.Entry(change.getOwner(), change.getSerial(), type.name(), idText,
                prior.toByteArray(), withdrawal));
          }
        }
        hooks.writing(key, change);
        // no live row: the object is not here (unless written behind the plugin's back, which the
        // insert finds out), so it is inserted without reading it first
        boolean absent = newWhenUnknown && (known == null || known.deleted());
        writer.write(session, type, id, change, peer, hooks, absent);
        rows.put(key, StateOrdering.rowAfter(type.name(), idText, change));
        if (change.getOperation() == Operation.UPSERT && (known == null || known.deleted())) {
          inserted.add(change);
        } else {
          inserted.remove(change); // tried again (a batch split up) and the object is held now
        }
        if (!change.getSignature().isEmpty() && !change.getOwner().equals(nodeName)) {
          signed.put(key, change);
        } else {
          signed.remove(key); // a later unsigned state of the same object (signing off): nothing stale is kept
        }
        return Outcomes.applied(index);
      }
      default -> throw new IllegalStateException("unknown verdict " + decision.verdict());
    }
  }

  /** The state this node holds of an object, encoded as its owner's change at the row's serial; null if the row is missing. */
  private static Change storedState(StatelessSession session, EntangledType type, Object id, ObjectRow known) {
    Object existing = EntityWriter.read(session, type.persister().getEntityName(), id);
    if (existing == null || existing.getClass() != type.persister().getMappedClass()) {
      return null;
    }
    Change state = type.upsert(id, type.values(session, existing), known.owner(), known.serial());
    return known.epoch() == 0 ? state : state.toBuilder().setEpoch(known.epoch()).build();
  }
}
