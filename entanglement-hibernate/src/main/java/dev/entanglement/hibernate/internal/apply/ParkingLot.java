package dev.entanglement.hibernate.internal.apply;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.entanglement.hibernate.internal.apply.InboundApplier.Hooks;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ParkedRow;
import dev.entanglement.hibernate.internal.core.RawChanges;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * Parks the received changes that cannot be applied yet (table {@code entanglement_parked}, with
 * their reason), retries them, and counts them. A newer state of a parked object replaces its
 * parked change (it is unparked when that state is written). Parked changes are what lets
 * positions move on without ever skipping an object unnoticed; changes that cannot become
 * applicable without a fix at the sender (malformed, not the owner, denied) are rejected but never
 * parked. Changes of an entity type this node does not have yet (a rolling upgrade deploys a new
 * entity on one node first) are parked raw and applied once an upgrade brings the type (at most
 * {@link #MAX_PARKED_UNKNOWN} of them).
 *
 * <h2>Concurrency</h2>
 * {@code parkedKeys} (the keys of the parked objects, a cache of the table) is concurrent: read
 * from any thread, changed by the applier under the {@link InboundApplier}'s lock, after the
 * transaction that wrote the same rows has committed. {@code retriesApplied} is an atomic counter.
 * {@link #retry} runs under the applier's lock.
 */
final class ParkingLot {
  private static final Logger LOG = Logger.getLogger(ParkingLot.class);
  private static final Set<RejectReason> PARKED_REASONS = EnumSet.of(RejectReason.MISSING_REFERENCE,
      RejectReason.CONSTRAINT_VIOLATION, RejectReason.WRONG_TYPE, RejectReason.UNKNOWN_ATTRIBUTE,
      RejectReason.INTERNAL, RejectReason.UNKNOWN_ENTITY);
  /**
   * Most parked changes of entity types this node does not have: a rolling upgrade parks a few,
   * a peer sending made-up types must not fill the table. Past it they are rejected unparked.
   */
  static final int MAX_PARKED_UNKNOWN = 100_000;
  /** Entity names that may be parked (they are stored in a {@code VARCHAR(255)}). */
  private static final Pattern ENTITY_NAME = Pattern.compile("[A-Za-z_$][A-Za-z0-9_$.]{0,254}");

  private final EntangledModel model;
  private final Bookkeeping bookkeeping;
  private final Transactions transactions;
  private final ChangeValidator validator;
  private final BatchWrite batchWrite;
  private final String nodeName;
  private final Set<String> parkedKeys = ConcurrentHashMap.newKeySet();
  /** Keys of parked changes whose entity type this node does not have (a subset of parkedKeys). */
  private final Set<String> parkedUnknown = ConcurrentHashMap.newKeySet();
  private final AtomicLong retriesApplied = new AtomicLong();

  ParkingLot(EntangledModel model, Bookkeeping bookkeeping, Transactions transactions, ChangeValidator validator,
      BatchWrite batchWrite, String nodeName) {
    this.nodeName = nodeName;
    this.model = model;
    this.bookkeeping = bookkeeping;
    this.transactions = transactions;
    this.validator = validator;
    this.batchWrite = batchWrite;
  }

  /** Adds the stored parked changes to the cache. */
  void load(Connection connection) throws SQLException {
    for (ParkedRow row : bookkeeping.parked(connection, Integer.MAX_VALUE)) {
      parkedKeys.add(row.entity() + '#' + row.id());
      if (model.byName(row.entity()) == null) {
        parkedUnknown.add(row.entity() + '#' + row.id());
      }
    }
  }

  /** Empties the cache (before loading it again). */
  void clear() {
    parkedKeys.clear();
    parkedUnknown.clear();
  }

  int count() {
    return parkedKeys.size();
  }

  boolean isEmpty() {
    return parkedKeys.isEmpty();
  }

  long retriesApplied() {
    return retriesApplied.get();
  }

  /** Whether this outcome parks its change (a problem the receiving side may outgrow). */
  static boolean parks(Outcome outcome) {
    return outcome.getStatus() == OutcomeStatus.REJECTED && PARKED_REASONS.contains(outcome.getReason());
  }

  /** Whether none of the batch's outcomes parks a change. */
  boolean nothingToPark(ChangeBatch batch, Outcome[] outcomes) {
    for (Outcome outcome : outcomes) {
      if (parks(outcome) && parkedRow(batch.getChanges(outcome.getIndex()), outcome) != null) {
        return false;
      }
    }
    return true;
  }

  /**
   * Parks the batch's changes whose outcomes say so, in the caller's transaction. A change of an
   * unknown type is ordered against the one parked for its object (as {@link StateOrdering} orders
   * written states): an older one is answered ALREADY_CURRENT in {@code outcomes} instead, so it
   * neither replaces the newer one nor is relayed; the same state again stays answered as parked.
   */
  void park(Connection connection, ChangeBatch batch, Outcome[] outcomes) throws SQLException {
    List<ParkedRow> park = new ArrayList<>();
    for (int i = 0; i < outcomes.length; i++) {
      Outcome outcome = outcomes[i];
      if (parks(outcome)) {
        Change change = batch.getChanges(outcome.getIndex());
        ParkedRow row = parkedRow(change, outcome);
        if (row != null && outcome.getReason() == RejectReason.UNKNOWN_ENTITY && olderThanParked(connection, row, change)) {
          outcomes[i] = Outcomes.alreadyCurrent(outcome.getIndex());
        } else if (row != null) {
          // newer, or the very state parked here (sent again, e.g. by caughtUp's re-check): it is
          // answered as parked, which it is, and parked again unchanged
          park.add(row);
        }
      }
    }
    bookkeeping.park(connection, park);
  }

  /** Whether a raw change is older than the change parked for its object (false when none is). */
  private boolean olderThanParked(Connection connection, ParkedRow row, Change change) throws SQLException {
    byte[] stored = bookkeeping.parkedChange(connection, row.entity(), row.id());
    if (stored == null) {
      return false;
    }
    Change parked;
    try {
      parked = Change.parseFrom(stored);
    } catch (InvalidProtocolBufferException e) {
      return false;
    }
    if (parked.getSerial() == change.getSerial() && parked.getEpoch() == change.getEpoch()
        && parked.getOwner().equals(change.getOwner()) && parked.getOperation() == change.getOperation()) {
      return false; // the same state
    }
    ObjectRow known = StateOrdering.rowAfter(row.entity(), row.id(), parked);
    return StateOrdering.decide(nodeName, row.entity() + '#' + row.id(), known, change).verdict()
        != StateOrdering.Verdict.APPLY;
  }

  /**
   * The batch's changes of types unknown here that {@link #park} parked (raw): a relay passes
   * them on to its other peers.
   */
  List<Change> parkedRaw(ChangeBatch batch, Outcome[] outcomes) {
    List<Change> raw = new ArrayList<>();
    for (Outcome outcome : outcomes) {
      if (parks(outcome) && outcome.getReason() == RejectReason.UNKNOWN_ENTITY) {
        Change change = batch.getChanges(outcome.getIndex());
        if (model.byName(change.getEntity()) == null && parkedRow(change, outcome) != null) {
          raw.add(change);
        }
      }
    }
    return raw;
  }

  /**
   * Unparks, in the caller's transaction, the parked changes of objects a newer state was just
   * written for; returns their keys (for {@link #committed}).
   */
  List<String> unparkWritten(Connection connection, Collection<String> written) throws SQLException {
    List<String> unparked = new ArrayList<>();
    for (String key : written) {
      if (parkedKeys.contains(key)) {
        int hash = key.indexOf('#');
        bookkeeping.unpark(connection, key.substring(0, hash), key.substring(hash + 1));
        unparked.add(key);
      }
    }
    return unparked;
  }

  /** Brings the cache up to date once a batch's transaction committed. */
  void committed(ChangeBatch batch, Outcome[] outcomes, List<String> unparked) {
    unparked.forEach(parkedKeys::remove);
    for (Outcome outcome : outcomes) {
      if (parks(outcome)) {
        ParkedRow row = parkedRow(batch.getChanges(outcome.getIndex()), outcome);
        if (row != null) {
          String key = row.entity() + '#' + row.id();
          parkedKeys.add(key);
          if (outcome.getReason() == RejectReason.UNKNOWN_ENTITY) {
            parkedUnknown.add(key);
          }
        }
      }
    }
  }

  /** Tries the parked changes again; returns how many could be applied now. Never throws. */
  int retry(int limit, Hooks hooks) {
    if (parkedKeys.isEmpty()) {
      return 0;
    }
    List<ParkedRow> rows;
    try {
      rows = transactions.read(connection -> bookkeeping.parked(connection, limit));
    } catch (RuntimeException e) {
      LOG.errorf(e, "Could not read the parked changes");
      return 0;
    }
    int applied = 0;
    for (ParkedRow row : rows) {
      if (retryOne(row, hooks)) {
        applied++;
      }
    }
    return applied;
  }

  private boolean retryOne(ParkedRow row, Hooks hooks) {
    String key = row.entity() + '#' + row.id();
    Change change;
    try {
      change = Change.parseFrom(row.change());
    } catch (InvalidProtocolBufferException e) {
      LOG.errorf("Parked change of %s cannot be read any more; dropping it", key);
      change = null;
    }
    if (change != null && !change.getEphemeral() && model.byName(change.getEntity()) == null) {
      return false; // its type is still unknown here: kept until an upgrade brings it
    }
    parkedUnknown.remove(key);
    Outcome[] outcome = new Outcome[1];
    Set<Change> inserted = BatchWrite.identitySet();
    ChangeBatch single = change == null ? null : ChangeBatch.newBuilder().addChanges(change).build();
    try {
      if (single != null) {
        validator.check(single.getChanges(0));
      }
      transactions.inTransaction((session, connection) -> {
        if (single != null) {
          batchWrite.run(session, connection, single, List.of(0), outcome, null, hooks, Set.of(), false,
              new java.util.IdentityHashMap<>(), inserted);
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
          hooks.committed(null, List.of(single.getChanges(0)), inserted);
          retriesApplied.incrementAndGet();
          LOG.infof("Applied the parked change of %s on retry %d", key, row.attempts());
          return true;
        }
      }
    } catch (DecodeException e) {
      dropUnusable(key, row, e.getMessage());
    } catch (RuntimeException | SQLException e) {
      LOG.debugf("Parked change of %s still cannot be applied: %s", key, e.getMessage());
    }
    return false;
  }

  private void dropUnusable(String key, ParkedRow row, String why) {
    LOG.warnf("Parked change of %s can never apply here (%s); dropping it", key, why);
    try {
      transactions.inTransaction((session, connection) -> bookkeeping.unpark(connection, row.entity(), row.id()));
      parkedKeys.remove(key);
    } catch (RuntimeException | SQLException e) {
      LOG.errorf(e, "Could not drop the parked change of %s", key);
    }
  }

  private ParkedRow parkedRow(Change change, Outcome outcome) {
    if (change.getEphemeral()) {
      return null;
    }
    EntangledType type = model.byName(change.getEntity());
    if (type == null) {
      return outcome.getReason() == RejectReason.UNKNOWN_ENTITY ? unknownTypeRow(change, outcome) : null;
    }
    try {
      Object id = type.idCodec().decode(change.getId(), type.name() + " id");
      return new ParkedRow(type.name(), type.idText(id), change.getOwner(), change.getSerial(),
          outcome.getReason().name(), outcome.getMessage(), change.toByteArray(), 1);
    } catch (DecodeException e) {
      return null;
    }
  }

  /**
   * The parked row of a change of an entity type this node does not have (a rolling upgrade:
   * the type is deployed elsewhere first), kept raw until the type exists here; null when it
   * cannot be kept (a name or id that cannot be stored, or too many of them parked already).
   */
  private ParkedRow unknownTypeRow(Change change, Outcome outcome) {
    String entity = change.getEntity();
    String id = RawChanges.idText(change);
    if (id == null || id.isEmpty() || id.length() > ChangeValidator.MAX_ID_LENGTH || !ENTITY_NAME.matcher(entity).matches()
        || parkedUnknown.size() >= MAX_PARKED_UNKNOWN && !parkedUnknown.contains(entity + '#' + id)) {
      return null;
    }
    return new ParkedRow(entity, id, change.getOwner(), change.getSerial(), outcome.getReason().name(),
        outcome.getMessage(), change.toByteArray(), 1);
  }
}
