package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.OwnerPosition;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.SyncMarker;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * Applies one batch of a peer's changes, durably, and answers it with one outcome per change:
 * the orchestrator of the apply room. Each change is validated ({@link ChangeValidator}) and
 * screened by the node's {@link Hooks} (policies, direction, relaying); the valid ones are
 * ordered against what this node knows and written ({@link BatchWrite}: {@link StateOrdering},
 * {@link EntityWriter}), and the changes to park ({@link ParkingLot}) and the positions the
 * batch completes ({@link Positions}) are written in the same transaction. When the database
 * refuses the batch, its changes are applied again one transaction each to single out the
 * culprit. Full synchronizations and owner removal are delegated to {@link OwnerSweeper}.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: batches are applied one at a time per node ({@code this} is the lock of
 * {@link #apply}, {@link #retryParked} and {@link #removeOwner}), each peer's in order by that
 * peer's apply executor; {@link #endFullSync} runs on a peer's apply executor without the lock
 * (see {@link OwnerSweeper}). {@code hooks} is volatile, set once at start. The caches (positions,
 * parked keys) are concurrent and updated after the transaction that wrote the same rows commits.
 */
public final class InboundApplier {
  private static final Logger LOG = Logger.getLogger(InboundApplier.class);

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

  private final EntangledModel model;
  private final Transactions transactions;
  private final ChangeValidator validator;
  private final BatchWrite batchWrite;
  private final Positions positions;
  private final ParkingLot parking;
  private final OwnerSweeper sweeper;
  private volatile Hooks hooks = new Hooks() {
    @Override
    public String directionProblem(String owner, String peer) {
      return null;
    }

    @Override
    public void applied(String peer, List<Change> changes) {}
  };

  public InboundApplier(SessionFactoryImplementor factory, EntangledModel model,
      Bookkeeping bookkeeping, String nodeName) {
    this.model = model;
    this.transactions = new Transactions(factory);
    this.validator = new ChangeValidator(model, nodeName);
    EntityWriter writer = new EntityWriter();
    this.batchWrite = new BatchWrite(model, bookkeeping, nodeName, writer);
    this.positions = new Positions(bookkeeping);
    this.parking = new ParkingLot(model, bookkeeping, transactions, validator, batchWrite);
    this.sweeper = new OwnerSweeper(model, bookkeeping, transactions, writer, positions, parking, nodeName);
  }

  public void hooks(Hooks hooks) {
    this.hooks = hooks;
  }

  /** Loads the positions and parked changes kept in the database. */
  public void load() {
    transactions.read(connection -> {
      positions.load(connection);
      parking.load(connection);
      return null;
    });
  }

  /** How far this node holds each owner's objects (durable). */
  public Map<String, Long> positions() {
    return positions.snapshot();
  }

  public int parkedCount() {
    return parking.count();
  }

  public long parkedRetriesApplied() {
    return parking.retriesApplied();
  }

  /** The key {@code entity#id} of a change, or null when it cannot be read. */
  public String objectKey(Change change) {
    return validator.objectKey(change);
  }

  /**
   * Applies the batch; the returned Ack is durable when this returns. Never throws. One batch at
   * a time per node: in a loop (a triangle, a ring) two peers can bring the same object at once,
   * and two concurrent transactions on one row would fail one of them with an optimistic-lock
   * error instead of answering the later copy ALREADY_CURRENT.
   */
  public synchronized Ack apply(String peer, ChangeBatch batch) {
    LOG.debugf("Applying %d changes from '%s' (positions %s)", batch.getChangesCount(), peer, batch.getPositionsList());
    Hooks hooks = this.hooks;
    int count = batch.getChangesCount();
    Outcome[] outcomes = new Outcome[count];
    List<Integer> valid = new ArrayList<>(count);
    // decided once per owner for the whole batch, for its changes and its positions alike: a
    // position from a direction whose changes are refused would skip them
    Map<String, String> directionProblems = new HashMap<>();
    for (int i = 0; i < count; i++) {
      outcomes[i] = screen(peer, i, batch.getChanges(i), directionProblems, hooks);
      if (outcomes[i] == null) {
        valid.add(i);
      }
    }
    List<OwnerPosition> acceptedPositions = new ArrayList<>();
    for (OwnerPosition position : batch.getPositionsList()) {
      if ((peer == null || !hooks.relayIgnored(position.getOwner(), peer))
          && directionProblem(position.getOwner(), peer, directionProblems, hooks) == null) {
        acceptedPositions.add(position);
      }
    }
    Map<String, Long> newPositions = positions.advance(acceptedPositions);
    if (valid.isEmpty() && newPositions.isEmpty() && parking.nothingToPark(batch, outcomes)) {
      return Outcomes.ack(peer, batch, outcomes); // e.g. ephemeral objects only: they never touch the database
    }
    List<String> unparked = new ArrayList<>();
    try {
      try {
        transactions.inTransaction((session, connection) -> {
          Set<String> written = batchWrite.run(session, connection, batch, valid, outcomes, peer, hooks);
          unparked.addAll(parking.unparkWritten(connection, written));
          parking.park(connection, batch, outcomes);
          positions.write(connection, newPositions);
        });
      } catch (RuntimeException | SQLException batchFailure) {
        // the database refused something: find out which, one change per transaction
        LOG.debugf(batchFailure, "A batch from '%s' failed as a whole; applying its changes one by one", peer);
        unparked.clear();
        for (int i : valid) {
          try {
            outcomes[i] = null;
            List<String> unparkedHere = new ArrayList<>();
            transactions.inTransaction((session, connection) -> unparkedHere.addAll(parking.unparkWritten(
                connection, batchWrite.run(session, connection, batch, List.of(i), outcomes, peer, hooks))));
            unparked.addAll(unparkedHere);
          } catch (RuntimeException | SQLException e) {
            outcomes[i] = Outcomes.databaseRejection(i, batch.getChanges(i), e);
          }
        }
        transactions.inTransaction((session, connection) -> {
          parking.park(connection, batch, outcomes);
          positions.write(connection, newPositions);
        });
      }
    } catch (RuntimeException | SQLException e) {
      // not even the bookkeeping could be written: answer nothing as applied
      LOG.errorf(e, "Could not apply a batch from peer '%s'", peer);
      for (int i = 0; i < count; i++) {
        if (outcomes[i] == null || outcomes[i].getStatus() != OutcomeStatus.REJECTED) {
          outcomes[i] = Outcomes.rejected(i, RejectReason.INTERNAL, "internal error at the receiver: " + e);
        }
      }
      return Outcomes.ack(peer, batch, outcomes);
    }
    committed(peer, batch, outcomes, newPositions, unparked, hooks);
    return Outcomes.ack(peer, batch, outcomes);
  }

  /** The outcome of a change refused before any database work, or null when it may be written. */
  private Outcome screen(String peer, int index, Change change, Map<String, String> directionProblems, Hooks hooks) {
    if (change.getEphemeral()) {
      return hooks.applyEphemeral(peer, change).toBuilder().setIndex(index).build();
    }
    try {
      validator.check(change);
      String denial = peer == null ? null : hooks.deniedMessage(peer, model.byName(change.getEntity()), change);
      if (denial != null) {
        throw new DecodeException(RejectReason.POLICY, denial);
      }
      if (peer != null && hooks.relayIgnored(change.getOwner(), peer)) {
        return Outcomes.alreadyCurrent(index);
      }
      String problem = directionProblem(change.getOwner(), peer, directionProblems, hooks);
      if (problem != null) {
        throw new DecodeException(RejectReason.NOT_OWNER, problem);
      }
      return null;
    } catch (DecodeException e) {
      return Outcomes.rejected(index, e.reason(), e.getMessage());
    }
  }

  /** The hooks' direction problem of an owner, asked once per batch. */
  private static String directionProblem(String owner, String peer, Map<String, String> asked, Hooks hooks) {
    String problem = asked.computeIfAbsent(owner, o -> String.valueOf(hooks.directionProblem(o, peer)));
    return problem.equals("null") ? null : problem;
  }

  /** What follows a committed batch: the hooks hear of it, the caches move, parked ones retry. */
  private void committed(String peer, ChangeBatch batch, Outcome[] outcomes, Map<String, Long> newPositions,
      List<String> unparked, Hooks hooks) {
    List<Change> applied = new ArrayList<>();
    for (Outcome outcome : outcomes) {
      if (outcome.getStatus() == OutcomeStatus.APPLIED && !batch.getChanges(outcome.getIndex()).getEphemeral()) {
        applied.add(batch.getChanges(outcome.getIndex()));
      }
    }
    if (!applied.isEmpty()) {
      hooks.applied(peer, applied);
    }
    positions.committed(newPositions);
    parking.committed(batch, outcomes, unparked);
    boolean appliedSomething = false;
    for (Outcome outcome : outcomes) {
      appliedSomething |= outcome.getStatus() == OutcomeStatus.APPLIED;
    }
    if (appliedSomething && !parking.isEmpty()) {
      parking.retry(100, hooks); // e.g. the parent a parked child was missing may just have arrived
    }
  }

  /** Tries the parked changes again; returns how many could be applied now. Never throws. */
  public synchronized int retryParked(int limit) {
    return parking.retry(limit, hooks);
  }

  /**
   * Deletes every object of a removed owner (children before parents, retried while progress is
   * made) and forgets the owner. Returns how many objects were deleted. Refused (0) for this
   * node's own name. Never throws.
   */
  public synchronized int removeOwner(String owner) {
    return sweeper.removeOwner(owner);
  }

  /**
   * Ends a full synchronization of an owner: with a sweep, removes the owner's objects this node
   * holds that were not received (the owner no longer has them), then sets the owner's position.
   * A marker naming this node is refused and logged (see {@link OwnerSweeper}). Never throws.
   */
  public void endFullSync(String peer, SyncMarker end, Set<String> received) {
    sweeper.endFullSync(peer, end, received);
  }
}
