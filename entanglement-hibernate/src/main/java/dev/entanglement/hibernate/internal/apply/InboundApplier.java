package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.Ack;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Outcome;
import dev.entanglement.proto.v1.OutcomeStatus;
import dev.entanglement.proto.v1.RejectReason;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.hibernate.JDBCException;
import org.hibernate.StatelessSession;
import org.hibernate.Transaction;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.exception.ConstraintViolationException;
import org.hibernate.persister.entity.EntityPersister;
import org.jboss.logging.Logger;

/**
 * Applies a peer's batch of changes to the local database in one transaction through a stateless
 * session (whose writes capture ignores, so nothing echoes), with the bookkeeping rows in the
 * same transaction, and answers with one outcome per change. A change that cannot be applied is
 * rejected on its own: decoding problems are found before writing, and when the database refuses
 * the batch, the changes are applied again one transaction each to single out the culprit.
 *
 * <h2>Concurrency</h2>
 * Stateless and thread-safe; each peer's batches are applied one at a time, in order, by that
 * peer's apply executor.
 */
public final class InboundApplier {
  private static final Logger LOG = Logger.getLogger(InboundApplier.class);

  private final SessionFactoryImplementor factory;
  private final EntangledModel model;
  private final Bookkeeping bookkeeping;
  private final String nodeName;

  public InboundApplier(SessionFactoryImplementor factory, EntangledModel model,
      Bookkeeping bookkeeping, String nodeName) {
    this.factory = factory;
    this.model = model;
    this.bookkeeping = bookkeeping;
    this.nodeName = nodeName;
  }

  /** Applies the batch; the returned Ack is durable when this returns. Never throws. */
  public Ack apply(String peer, ChangeBatch batch) {
    int count = batch.getChangesCount();
    Outcome[] outcomes = new Outcome[count];
    List<Integer> valid = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      Change change = batch.getChanges(i);
      try {
        check(change);
        valid.add(i);
      } catch (DecodeException e) {
        outcomes[i] = rejected(i, e.reason(), e.getMessage());
      }
    }
    if (!valid.isEmpty()) {
      try {
        applyInOneTransaction(batch, valid, outcomes);
      } catch (RuntimeException | SQLException batchFailure) {
        // the database refused something: find out which, one change per transaction
        for (int i : valid) {
          try {
            outcomes[i] = null;
            applyInOneTransaction(batch, List.of(i), outcomes);
          } catch (RuntimeException | SQLException e) {
            outcomes[i] = databaseRejection(i, batch.getChanges(i), e);
          }
        }
      }
    }
    Ack.Builder ack = Ack.newBuilder().setRequestId(batch.getRequestId());
    for (Outcome outcome : outcomes) {
      if (outcome.getStatus() == OutcomeStatus.REJECTED) {
        Change change = batch.getChanges(outcome.getIndex());
        LOG.warnf("Rejected a change from peer '%s' of %s#%s (%s): %s", peer, change.getEntity(),
            dev.entanglement.hibernate.internal.model.Values.shortText(change.getId()),
            outcome.getReason(), outcome.getMessage());
      }
      ack.addOutcomes(outcome);
    }
    return ack.build();
  }

  /** Checks what can be checked without the database. */
  private void check(Change change) throws DecodeException {
    if (change.getEntity().isEmpty()) {
      throw new DecodeException(RejectReason.MALFORMED, "change without an entity name");
    }
    if (!change.hasId() || change.getId().getKindCase() == dev.entanglement.proto.v1.Value.KindCase.KIND_NOT_SET
        || change.getId().getKindCase() == dev.entanglement.proto.v1.Value.KindCase.NULL) {
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

  private void applyInOneTransaction(ChangeBatch batch, List<Integer> indexes, Outcome[] outcomes)
      throws SQLException {
    try (StatelessSession session = factory.openStatelessSession()) {
      Transaction tx = session.beginTransaction();
      try {
        Connection connection = session.doReturningWork(c -> c);
        Map<String, ObjectRow> rows = new HashMap<>();
        List<Integer> pending = indexes;
        boolean progress = true;
        // a child may come before its parent in the same batch: retry those after the rest
        while (!pending.isEmpty() && progress) {
          progress = false;
          List<Integer> missingReference = new ArrayList<>();
          for (int i : pending) {
            try {
              outcomes[i] = applyOne(session, connection, i, batch.getChanges(i), rows);
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
        bookkeeping.write(connection, new ArrayList<>(rows.values()));
        tx.commit();
      } catch (RuntimeException | SQLException e) {
        if (tx.isActive()) {
          tx.rollback();
        }
        throw e;
      }
    }
  }

  private Outcome applyOne(StatelessSession session, Connection connection, int index,
      Change change, Map<String, ObjectRow> rows) throws DecodeException, SQLException {
    EntangledType type = model.byName(change.getEntity());
    Object id = type.idCodec().decode(change.getId(), type.name() + " id");
    String idText = type.idText(id);
    String key = type.name() + '#' + idText;
    ObjectRow known = rows.containsKey(key) ? rows.get(key) : bookkeeping.read(connection, type.name(), idText);
    if (known != null) {
      if (known.owner().equals(nodeName)) {
        throw new DecodeException(RejectReason.NOT_OWNER, ("%s is owned by this node ('%s'); a "
            + "change claiming owner '%s' cannot overwrite it").formatted(key, nodeName, change.getOwner()));
      }
      if (known.owner().equals(change.getOwner()) && known.serial() >= change.getSerial()) {
        return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.ALREADY_CURRENT).build();
      }
    }
    EntityPersister persister = type.persister();
    SharedSessionContractImplementor implementor = (SharedSessionContractImplementor) session;
    Object existing = session.get(persister.getEntityName(), id);
    boolean delete = change.getOperation() == Operation.DELETE;
    if (delete) {
      if (existing != null) {
        session.delete(existing);
      }
    } else {
      if (existing != null && existing.getClass() != persister.getMappedClass()) {
        session.delete(existing); // the object's subclass changed at the owner
        existing = null;
      }
      Object target = existing != null ? existing : persister.instantiate(id, implementor);
      Object oldVersion = existing != null && persister.isVersioned() ? persister.getVersion(existing) : null;
      Object[] state = type.decode(change.getAttributesList(), persister.getValues(target),
          (referenced, referencedId) -> session.get(referenced.persister().getEntityName(), referencedId));
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
    rows.put(key, new ObjectRow(type.name(), idText, change.getOwner(), change.getSerial(), delete));
    return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.APPLIED).build();
  }

  private Outcome databaseRejection(int index, Change change, Exception e) {
    Throwable cause = e;
    while (cause != null && !(cause instanceof ConstraintViolationException)
        && !(cause instanceof JDBCException) && !(cause instanceof SQLException)) {
      cause = cause.getCause();
    }
    if (cause instanceof ConstraintViolationException violation) {
      return rejected(index, RejectReason.CONSTRAINT_VIOLATION, "the database refused %s: %s"
          .formatted(change.getEntity(), firstLine(violation.getSQLException().getMessage())));
    }
    if (cause instanceof JDBCException jdbc) {
      return rejected(index, RejectReason.CONSTRAINT_VIOLATION, "the database refused %s: %s"
          .formatted(change.getEntity(), firstLine(jdbc.getSQLException().getMessage())));
    }
    if (cause instanceof SQLException sql) {
      return rejected(index, RejectReason.CONSTRAINT_VIOLATION, "the database refused %s: %s"
          .formatted(change.getEntity(), firstLine(sql.getMessage())));
    }
    LOG.errorf(e, "Could not apply a change of %s", change.getEntity());
    return rejected(index, RejectReason.INTERNAL, "internal error at the receiver: " + e);
  }

  private static String firstLine(String message) {
    if (message == null) {
      return "(no message)";
    }
    int newline = message.indexOf('\n');
    String line = newline < 0 ? message : message.substring(0, newline);
    return line.length() > 300 ? line.substring(0, 297) + "..." : line;
  }

  private static Outcome rejected(int index, RejectReason reason, String message) {
    return Outcome.newBuilder().setIndex(index).setStatus(OutcomeStatus.REJECTED)
        .setReason(reason).setMessage(message).build();
  }
}
