package dev.entanglement.hibernate.internal.ownership;

import dev.entanglement.hibernate.internal.store.ConnectionBudget;
import dev.entanglement.hibernate.RefusalReason;
import dev.entanglement.hibernate.UpdateRequestException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import java.sql.Connection;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.hibernate.LockMode;
import org.hibernate.StatelessSession;
import org.hibernate.Transaction;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.jboss.logging.Logger;

/**
 * Ownership transfer. The owner hands an object over with a change of its own (next serial, its
 * full state, {@code handover_to} = the new owner), which travels like any change: through
 * relays, catch-up and outages. From that commit on, the old owner no longer changes the object
 * (the application's changes become update requests to the new owner). When the new owner
 * receives the hand-over it takes the object over: it writes it under its own name with the
 * ownership epoch raised by one and floods that state. Receivers order states by (epoch,
 * serial), so every node ends with the new owner, and only the node an object was handed to can
 * take it from its owner (the old owner checks its own row).
 *
 * <p>The fence against concurrent changes: the hand-over marks the object as leaving before it
 * reads it, then reads it under a row lock. An application transaction that changed the object
 * and commits after the mark is rolled back (see TransactionChanges); one that committed before
 * is in the state read. Update requests for the object that reach the old owner are sent on to
 * the new owner.
 *
 * <h2>Concurrency</h2>
 * Hand-overs and take-overs run on the node's decision executor (one at a time, in order with
 * update requests); {@code pending} is a concurrent map completed from apply threads.
 */
public final class Handover {
  private static final Logger LOG = Logger.getLogger(Handover.class);

  /** What a hand-over needs from the node. */
  public interface Host {
    String nodeName();

    long nextSerial();

    void finished(List<Long> serials);

    void publish(List<Outgoing> changes);

    Object load(EntangledType type, Object id);

    ScheduledExecutorService scheduler();

    Duration timeout();
  }

  private record Pending(String newOwner, long epoch, CompletableFuture<Object> future, EntangledType type, Object id) {}

  private final SessionFactoryImplementor factory;
  private final EntangledModel model;
  private final Bookkeeping bookkeeping;
  private final Ownership ownership;
  private final Executor decisions;
  private final Host host;
  private final Map<String, Pending> pending = new ConcurrentHashMap<>();

  public Handover(SessionFactoryImplementor factory, EntangledModel model, Bookkeeping bookkeeping,
      Ownership ownership, Executor decisions, Host host) {
    this.factory = factory;
    this.model = model;
    this.bookkeeping = bookkeeping;
    this.ownership = ownership;
    this.decisions = decisions;
    this.host = host;
  }

  /**
   * Hands an own object to another node. The future completes with this node's copy once it
   * holds the new owner's first state; it fails with {@link UpdateRequestException.NotFound} if
   * there is no such object here, {@link UpdateRequestException.Refused} if this node does not
   * own it, or {@link UpdateRequestException.OwnerUnreachable} if the new owner has not taken it
   * over within the request timeout (the hand-over stands and completes when it is reachable).
   */
  public CompletableFuture<Object> start(EntangledType type, Object id, String newOwner) {
    CompletableFuture<Object> future = new CompletableFuture<>();
    decisions.execute(() -> {
      try {
        handOver(type, id, newOwner, future);
      } catch (RuntimeException e) {
        future.completeExceptionally(e);
      }
    });
    return future;
  }

  private void handOver(EntangledType type, Object id, String newOwner, CompletableFuture<Object> future) {
    String self = host.nodeName();
    String key = type.key(type.idText(id));
    if (newOwner.equals(self)) {
      future.completeExceptionally(new IllegalArgumentException(key + " cannot be handed over to its own owner '" + self + "'"));
      return;
    }
    if (!ownership.handingOver(key, newOwner)) {
      String owner = ownership.remoteOwner(key);
      future.completeExceptionally(new UpdateRequestException.Refused(owner, RefusalReason.NOT_OWNER,
          "%s is owned by '%s', not by '%s': only its owner can hand it over".formatted(key, owner, self)));
      return;
    }
    long serial = -1;
    Change change = null;
    long epoch = 0;
    try (var permit = ConnectionBudget.of(factory).enter(); StatelessSession session = factory.openStatelessSession()) {
      Transaction tx = session.beginTransaction();
      try {
        // the row lock waits for application transactions that changed the object before the mark
        Object entity = session.get(type.persister().getEntityName(), id, LockMode.PESSIMISTIC_WRITE);
        Connection connection = session.doReturningWork(c -> c);
        ObjectRow row = bookkeeping.read(connection, type.name(), type.idText(id));
        if (entity == null) {
          tx.rollback();
          ownership.gone(key);
          future.completeExceptionally(new UpdateRequestException.NotFound(self,
              "node '%s' has no %s to hand over to '%s'".formatted(self, key, newOwner)));
          return;
        }
        if (row != null && !row.owner().equals(self)) {
          tx.rollback();
          ownership.owned(key, row.effectiveOwner());
          future.completeExceptionally(new UpdateRequestException.Refused(row.owner(), RefusalReason.NOT_OWNER,
              "%s is owned by '%s', not by '%s': only its owner can hand it over".formatted(key, row.owner(), self)));
          return;
        }
        epoch = row == null ? 0 : row.epoch();
        serial = host.nextSerial();
        bookkeeping.writeWithEpoch(connection, List.of(
            new ObjectRow(type.name(), type.idText(id), self, serial, false, epoch, newOwner)));
        tx.commit();
        change = type.upsert(id, type.values(session, entity), self, serial).toBuilder()
            .setEpoch(epoch).setHandoverTo(newOwner).build();
      } catch (RuntimeException | java.sql.SQLException e) {
        if (tx.isActive()) {
          tx.rollback();
        }
        ownership.ownedHere(key, ownership.ownEpoch(key));
        LOG.errorf(e, "Node '%s' could not hand %s over to '%s'", self, key, newOwner);
        future.completeExceptionally(new dev.entanglement.hibernate.EntanglementException(
            "node '%s' could not hand %s over to '%s': %s".formatted(self, key, newOwner, e.getMessage()), e));
        return;
      }
    } finally {
      if (serial >= 0) {
        try {
          if (change != null) {
            Pending waiting = new Pending(newOwner, epoch + 1, future, type, id);
            pending.put(key, waiting);
            host.publish(List.of(new Outgoing(key, type.priority(), type.coalesce(), change)));
            host.scheduler().schedule(() -> timedOut(key, waiting), host.timeout().toMillis(), TimeUnit.MILLISECONDS);
          }
        } finally {
          host.finished(List.of(serial));
        }
      }
    }
    LOG.infof("Node '%s' hands %s over to '%s' (epoch %d -> %d)", self, key, newOwner, epoch, epoch + 1);
  }

  private void timedOut(String key, Pending waiting) {
    if (pending.remove(key, waiting)) {
      waiting.future.completeExceptionally(new UpdateRequestException.OwnerUnreachable(waiting.newOwner,
          ("'%s' has not taken %s over within %d ms; the hand-over stands and completes when '%s' "
              + "receives it").formatted(waiting.newOwner, key, host.timeout().toMillis(), waiting.newOwner)));
    }
  }

  /**
   * After received changes were applied: takes over what was handed to this node and completes
   * hand-overs whose new owner's state arrived.
   */
  public void applied(String key, Change change) {
    if (change.getOperation() == Operation.UPSERT && change.getHandoverTo().equals(host.nodeName())) {
      decisions.execute(() -> takeOver(key, change.getEntity(), change.getEpoch()));
    }
    Pending waiting = pending.get(key);
    if (waiting != null && change.getOwner().equals(waiting.newOwner) && change.getEpoch() >= waiting.epoch
        && pending.remove(key, waiting)) {
      host.scheduler().execute(() -> {
        try {
          waiting.future.complete(host.load(waiting.type, waiting.id));
        } catch (RuntimeException e) {
          waiting.future.completeExceptionally(e);
        }
      });
    }
  }

  /** Takes over the objects handed to this node while it was not running. */
  public void takeOverPending(List<ObjectRow> rows) {
    for (ObjectRow row : rows) {
      if (host.nodeName().equals(row.handoverTo()) && !row.owner().equals(host.nodeName())) {
        decisions.execute(() -> takeOver(row.entity() + '#' + row.id(), row.entity(), row.epoch()));
      }
    }
  }

  private void takeOver(String key, String entity, long handedEpoch) {
    String self = host.nodeName();
    EntangledType type = model.byName(entity);
    if (type == null) {
      return;
    }
    Object id = type.idCodec().parseText(key.substring(key.indexOf('#') + 1));
    long serial = -1;
    Change change = null;
    String previousOwner = null;
    try (var permit = ConnectionBudget.of(factory).enter(); StatelessSession session = factory.openStatelessSession()) {
      Transaction tx = session.beginTransaction();
      try {
        Connection connection = session.doReturningWork(c -> c);
        ObjectRow row = bookkeeping.read(connection, type.name(), type.idText(id));
        Object entityState = session.get(type.persister().getEntityName(), id);
        if (row == null || row.deleted() || !self.equals(row.handoverTo()) || row.epoch() != handedEpoch
            || entityState == null) {
          tx.rollback(); // taken over already, or superseded
          return;
        }
        serial = host.nextSerial();
        long epoch = row.epoch() + 1;
        bookkeeping.writeWithEpoch(connection, List.of(
            new ObjectRow(type.name(), type.idText(id), self, serial, false, epoch, null)));
        // own before the commit: an application change made as soon as the row is visible must be
        // captured as this node's (its bookkeeping waits for this row's lock), not sent as a request
        previousOwner = row.owner();
        ownership.ownedHere(key, epoch);
        tx.commit();
        previousOwner = null;
        change = type.upsert(id, type.values(session, entityState), self, serial).toBuilder()
            .setEpoch(epoch).build();
        LOG.infof("Node '%s' took %s over from '%s' (epoch %d)", self, key, row.owner(), epoch);
      } catch (RuntimeException | java.sql.SQLException e) {
        if (tx.isActive()) {
          tx.rollback();
        }
        if (previousOwner != null) {
          ownership.owned(key, previousOwner);
        }
        change = null;
        LOG.errorf(e, "Node '%s' could not take %s over; it retries when the hand-over is received again", self, key);
      }
    } finally {
      if (serial >= 0) {
        try {
          if (change != null) {
            host.publish(List.of(new Outgoing(key, type.priority(), type.coalesce(), change)));
          }
        } finally {
          host.finished(List.of(serial));
        }
      }
    }
  }
}
