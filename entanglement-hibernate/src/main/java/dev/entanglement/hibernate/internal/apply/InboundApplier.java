package dev.entanglement.hibernate.internal.apply;

import java.util.IdentityHashMap;
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
import dev.entanglement.hibernate.internal.core.RelayGaps;
import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.core.StoreUnavailableException;
import dev.entanglement.hibernate.internal.store.SqlErrors;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
 * {@link #apply}, {@link #retryParked}, {@link #removeOwner} and {@link #endFullSync}), each
 * peer's in order by that peer's apply executor. {@code hooks} is volatile, set once at start. The caches (positions,
 * parked keys) are concurrent and updated after the transaction that wrote the same rows commits.
 */
public final class InboundApplier {
  private static final Logger LOG = Logger.getLogger(InboundApplier.class);
  private static final long FIRST_BACKOFF_MILLIS = 50;
  private static final long MAX_BACKOFF_MILLIS = 2_000;

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

    /**
     * As {@link #applied(String, List)}, with the states this node held before some of the changes
     * (by change; see {@link BatchWrite}): a relay withdraws the object from a peer it gave that
     * state to when the new one is denied there, and passes withdrawals on to such peers.
     */
    default void applied(String peer, List<Change> changes, Map<Change, Change> previous) {
      applied(peer, changes);
    }

    /**
     * Whether the states overwritten by received changes are recorded (the node has send
     * policies, which may deny a new state a peer held the old one of): see docs/design/withdrawal.md.
     */
    default boolean recordsPriorStates() {
      return false;
    }

    /**
     * Called inside the apply transaction, before a change of another owner's object is written:
     * the application can read the row as soon as the transaction commits, and a change it makes
     * then must already be seen as another node's object (an update request), never captured as
     * this node's own.
     */
    default void writing(String key, Change change) {}

    /**
     * Called once changes of entity types this node does not have are durably parked raw, and
     * before they count in this node's positions: a relay passes them on to its other peers as
     * received (only the newest state of each object gets here).
     *
     * @param peer the peer they came from
     */
    default void parkedRaw(String peer, List<Change> changes) {}

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

    /**
     * Signed state: why a received change may not be taken as its owner's (no signature, one that
     * does not verify, an unknown or wrong signer), or null. Asked for every change of a batch
     * before the node-wide apply lock is taken, so batches of different peers verify in parallel.
     */
    default String signatureProblem(String peer, Change change) {
      return null;
    }

    /** Whether the policies decide at the object stage (else no copies are constructed for them). */
    default boolean objectStage() {
      return false;
    }

    /** The policies' denial of a received change at the object stage, or null. */
    default String deniedObject(String peer, EntangledType type, Change change, Object incoming, Object stored) {
      return null;
    }

    /**
     * Called right after {@link #applied} (and for the same changes), on the apply thread, under
     * the apply lock, so in the order the changes committed: for the second-level cache and the
     * change listeners.
     *
     * @param peer the peer they came from, or null (a parked change applied on retry)
     * @param inserted those of the changes (by identity) that inserted an object this node did
     *     not hold; the other upserts updated one
     */
    default void committed(String peer, List<Change> changes, Set<Change> inserted) {}

    /**
     * Called once a sweep (the end of a full synchronization) or an owner removal committed the
     * deletion of an object, on the apply thread, under the apply lock (in commit order).
     *
     * @param peer the peer whose full synchronization swept it, or null (an owner removal)
     */
    default void swept(String peer, EntangledType type, Object id, String owner) {}
  }

  private final EntangledModel model;
  private final Transactions transactions;
  private final ChangeValidator validator;
  private final BatchWrite batchWrite;
  private final Positions positions;
  private final ParkingLot parking;
  private final OwnerSweeper sweeper;
  private final Duration retryFor;
  private final LimitedLog retryLog = new LimitedLog(LOG);
  private final LimitedLog inputLog = new LimitedLog(LOG);
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
    this(factory, model, bookkeeping, nodeName, Duration.ofSeconds(30));
  }

  /**
   * @param retryFor how long a batch is tried again while the database fails transiently, before
   *     {@link #apply} gives up with a {@link StoreUnavailableException}
   */
  public InboundApplier(SessionFactoryImplementor factory, EntangledModel model,
      Bookkeeping bookkeeping, String nodeName, Duration retryFor) {
    this.retryFor = retryFor;
    this.model = model;
    this.transactions = new Transactions(factory);
    this.validator = new ChangeValidator(model, nodeName);
    EntityWriter writer = new EntityWriter();
    this.batchWrite = new BatchWrite(model, bookkeeping, nodeName, writer);
    this.positions = new Positions(bookkeeping);
    this.parking = new ParkingLot(model, bookkeeping, transactions, validator, batchWrite, nodeName);
    this.sweeper = new OwnerSweeper(model, bookkeeping, transactions, writer, positions, parking, nodeName);
  }

  /** The sweeper, for tests in this package (its {@code afterListing} seam). */
  OwnerSweeper sweeper() {
    return sweeper;
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

  /**
   * Every owner whose objects this node may hold, including owners it has no position of yet:
   * what a peer's catch-up must cover.
   */
  public Set<String> heldOwners() {
    return positions.owners();
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
   * Applies the batch; the returned Ack is durable when this returns: every change in it is
   * applied, parked with its reason, or refused before any database work (invalid, denied).
   * While the database fails transiently the batch is tried again with backoff (the peer's flow
   * is held meanwhile); such a failure is never answered as a rejection.
   *
   * @throws StoreUnavailableException when the database kept failing for the retry period: the
   *     stream must end, nothing of the batch was answered or counted in a position
   *
   * <p>One batch at
   * a time per node: in a loop (a triangle, a ring) two peers can bring the same object at once,
   * and two concurrent transactions on one row would fail one of them with an optimistic-lock
   * error instead of answering the later copy ALREADY_CURRENT.
   */
  public Ack apply(String peer, ChangeBatch batch) {
    return apply(peer, batch, Set.of(), new RelayGaps());
  }

  /**
   * As {@link #apply(String, ChangeBatch)}, comparing the changes of {@code verifyOwners} with the
   * rows this node really holds (a verifying full synchronization): a change whose state the
   * bookkeeping says this node has, but whose row is missing or differs, is written again and
   * answered APPLIED with {@code repaired} set (not relayed: nobody else's state changes).
   *
   * @param gaps the stream's changes ignored from a relay (see {@link RelayGaps}): this batch's
   *     ignored changes are added, and its positions held below them
   */
  public Ack apply(String peer, ChangeBatch batch, Set<String> verifyOwners, RelayGaps gaps) {
    Hooks hooks = this.hooks;
    String[] unsigned = null;
    if (peer != null) {
      for (int i = 0; i < batch.getChangesCount(); i++) {
        String problem = hooks.signatureProblem(peer, batch.getChanges(i));
        if (problem != null) {
          if (unsigned == null) {
            unsigned = new String[batch.getChangesCount()];
          }
          unsigned[i] = problem;
        }
      }
    }
    return apply(peer, batch, verifyOwners, gaps, hooks, unsigned);
  }

  private synchronized Ack apply(String peer, ChangeBatch batch, Set<String> verifyOwners, RelayGaps gaps, Hooks hooks,
      String[] unsigned) {
    LOG.debugf("Applying %d changes from '%s' (positions %s)", batch.getChangesCount(), peer, batch.getPositionsList());
    int count = batch.getChangesCount();
    Outcome[] outcomes = new Outcome[count];
    List<Integer> valid = new ArrayList<>(count);
    // decided once per owner for the whole batch, for its changes and its positions alike: a
    // position from a direction whose changes are refused would skip them
    Map<String, String> directionProblems = new HashMap<>();
    for (int i = 0; i < count; i++) {
      outcomes[i] = unsigned != null && unsigned[i] != null
          ? Outcomes.rejected(i, RejectReason.SIGNATURE, "%s#%s of owner %s is refused: %s".formatted(
              ChangeValidator.shown(batch.getChanges(i).getEntity()),
              ChangeValidator.shown(dev.entanglement.hibernate.internal.model.Values.shortText(batch.getChanges(i).getId())),
              ChangeValidator.shown(batch.getChanges(i).getOwner()), unsigned[i]))
          : screen(peer, i, batch.getChanges(i), directionProblems, hooks, gaps);
      if (outcomes[i] == null) {
        valid.add(i);
      }
    }
    List<OwnerPosition> acceptedPositions = new ArrayList<>();
    for (OwnerPosition position : batch.getPositionsList()) {
      String problem = validator.positionProblem(position);
      if (problem != null) {
        inputLog.warn(peer + "|position", "Ignored %s from peer '%s'".formatted(problem, peer));
        continue;
      }
      if ((peer == null || !hooks.relayIgnored(position.getOwner(), peer))
          && directionProblem(position.getOwner(), peer, directionProblems, hooks) == null) {
        long serial = gaps.cap(position.getOwner(), position.getSerial(), positions.of(position.getOwner()));
        acceptedPositions.add(serial == position.getSerial() ? position
            : position.toBuilder().setSerial(serial).build());
      }
    }
    Map<String, Long> newPositions = positions.advance(acceptedPositions);
    for (int i = 0; i < count; i++) {
      if (outcomes[i] == null || outcomes[i].getReason() == RejectReason.UNKNOWN_ENTITY) {
        positions.holding(batch.getChanges(i).getOwner()); // before it can be written, so before any relay
      }
    }
    if (valid.isEmpty() && newPositions.isEmpty() && parking.nothingToPark(batch, outcomes)) {
      return Outcomes.ack(peer, batch, outcomes, inputLog); // e.g. ephemeral objects only: they never touch the database
    }
    Attempt attempt = new Attempt(peer, batch, valid, newPositions, hooks, verifyOwners);
    long deadline = System.nanoTime() + retryFor.toNanos();
    long backoffMillis = FIRST_BACKOFF_MILLIS;
    for (int tries = 1; ; tries++) {
      try {
        Outcome[] answered = attempt.run(outcomes.clone());
        committed(peer, batch, answered, newPositions, attempt.unparked, attempt.reported, hooks, attempt.priors,
            attempt.inserted);
        if (tries > 1) {
          LOG.infof("Applied a batch from peer '%s' after %d tries", peer, tries);
        }
        return Outcomes.ack(peer, batch, answered, inputLog);
      } catch (TransientFailure failure) {
        if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoffMillis) - deadline > 0) {
          throw new StoreUnavailableException(("node could not apply a batch of %d changes from peer '%s' for %d ms "
              + "(entanglement.apply.retry_ms): %s; nothing of it was answered, the peer sends it again")
              .formatted(count, peer, retryFor.toMillis(), failure.getCause()), failure.getCause());
        }
        retryLog.warn(String.valueOf(peer), "Could not apply a batch of %d changes from peer '%s' (try %d): %s; trying again in %d ms"
            .formatted(count, peer, tries, describe(failure.getCause()), backoffMillis));
        sleep(backoffMillis);
        backoffMillis = Math.min(backoffMillis * 2, MAX_BACKOFF_MILLIS);
      }
    }
  }

  /**
   * One try at a batch. A transient failure anywhere ends it with {@link TransientFailure};
   * changes it committed one by one before that stay committed and were already reported to the
   * hooks (relayed), so a later try answers them ALREADY_CURRENT without losing their relay.
   */
  private final class Attempt {
    final String peer;
    final ChangeBatch batch;
    final List<Integer> valid;
    final Map<String, Long> newPositions;
    final Hooks hooks;
    final Set<String> verifyOwners;
    /** Parked keys removed by committed transactions (kept across tries). */
    final List<String> unparked = new ArrayList<>();
    /** Changes already reported to the hooks as applied (kept across tries). */
    final Set<Integer> reported = new HashSet<>();
    /** The states held here before the changes that replaced or withdrew them (by change; kept across tries). */
    final Map<Change, Change> priors = new IdentityHashMap<>();
    /** The applied upserts of objects this node did not hold (kept across tries). */
    final Set<Change> inserted = BatchWrite.identitySet();

    Attempt(String peer, ChangeBatch batch, List<Integer> valid, Map<String, Long> newPositions, Hooks hooks,
        Set<String> verifyOwners) {
      this.verifyOwners = verifyOwners;
      this.peer = peer;
      this.batch = batch;
      this.valid = valid;
      this.newPositions = newPositions;
      this.hooks = hooks;
    }

    Outcome[] run(Outcome[] outcomes) {
      List<String> unparkedHere = new ArrayList<>();
      try {
        transactions.inTransaction((session, connection) -> {
          Set<String> written = batchWrite.run(session, connection, batch, valid, outcomes, peer, hooks, verifyOwners,
              true, priors, inserted);
          unparkedHere.addAll(parking.unparkWritten(connection, written));
          parking.park(connection, batch, outcomes);
          positions.write(connection, newPositions);
        });
        unparked.addAll(unparkedHere);
        return outcomes;
      } catch (RuntimeException | SQLException batchFailure) {
        if (SqlErrors.isTransient(batchFailure)) {
          throw new TransientFailure(batchFailure);
        }
        // the database refused something: find out which, one change per transaction
        LOG.debugf(batchFailure, "A batch from '%s' failed as a whole; applying its changes one by one", peer);
      }
      for (int i : valid) {
        outcomes[i] = null;
        List<String> unparkedOne = new ArrayList<>();
        try {
          transactions.inTransaction((session, connection) -> unparkedOne.addAll(parking.unparkWritten(
              connection, batchWrite.run(session, connection, batch, List.of(i), outcomes, peer, hooks, verifyOwners,
                  false, priors, inserted))));
        } catch (RuntimeException | SQLException e) {
          if (SqlErrors.isTransient(e)) {
            throw new TransientFailure(e);
          }
          outcomes[i] = Outcomes.databaseRejection(i, batch.getChanges(i), e);
          continue;
        }
        unparked.addAll(unparkedOne);
        if (outcomes[i].getStatus() == OutcomeStatus.APPLIED && !outcomes[i].getRepaired() && reported.add(i)) {
          // durable now: relayed at once, so a failure of the bookkeeping below cannot lose its relay
          hooks.applied(peer, List.of(batch.getChanges(i)), priors);
          hooks.committed(peer, List.of(batch.getChanges(i)), inserted);
        }
      }
      try {
        transactions.inTransaction((session, connection) -> {
          parking.park(connection, batch, outcomes);
          positions.write(connection, newPositions);
        });
      } catch (RuntimeException | SQLException e) {
        // what could not be applied cannot be parked either: nothing may be answered as final
        throw new TransientFailure(e);
      }
      return outcomes;
    }
  }

  /** A try failed for a reason that says nothing about the data; the batch is tried again. */
  private static final class TransientFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TransientFailure(Throwable cause) {
      super(cause);
    }
  }

  private static String describe(Throwable failure) {
    String sql = SqlErrors.message(failure);
    return sql != null ? sql : String.valueOf(failure);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreUnavailableException("interrupted while waiting to apply a batch again", e);
    }
  }

  /** The outcome of a change refused before any database work, or null when it may be written. */
  private Outcome screen(String peer, int index, Change change, Map<String, String> directionProblems, Hooks hooks,
      RelayGaps gaps) {
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
        // the relay counts it delivered: its later positions of the owner must not pass it here
        gaps.ignored(change.getOwner(), change.getSerial());
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
      List<String> unparked, Set<Integer> reported, Hooks hooks, Map<Change, Change> priors, Set<Change> inserted) {
    List<Change> applied = new ArrayList<>();
    for (Outcome outcome : outcomes) {
      if (outcome.getStatus() == OutcomeStatus.APPLIED && !outcome.getRepaired()
          && !batch.getChanges(outcome.getIndex()).getEphemeral() && !reported.contains(outcome.getIndex())) {
        applied.add(batch.getChanges(outcome.getIndex()));
      }
    }
    if (!applied.isEmpty()) {
      hooks.applied(peer, applied, priors);
      hooks.committed(peer, applied, inserted);
    }
    List<Change> raw = parking.parkedRaw(batch, outcomes);
    if (!raw.isEmpty()) {
      hooks.parkedRaw(peer, raw);
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
    return sweeper.removeOwner(owner, hooks);
  }

  /**
   * Ends a full synchronization of an owner: with a sweep, removes the owner's objects this node
   * holds that were not received (the owner no longer has them), then sets the owner's position.
   * A marker naming this node is refused and logged (see {@link OwnerSweeper}). Runs in the apply
   * ordering (under the same lock as {@link #apply}), so a newer state applied from another peer
   * meanwhile is either already there (and kept: each row is re-checked in its delete transaction)
   * or arrives after the sweep. Never throws; returns how many objects the sweep removed.
   */
  public synchronized int endFullSync(String peer, SyncMarker end, Set<String> received, long repaired,
      List<String> repairedExamples) {
    return sweeper.endFullSync(peer, end, received, repaired, repairedExamples, hooks);
  }
}
