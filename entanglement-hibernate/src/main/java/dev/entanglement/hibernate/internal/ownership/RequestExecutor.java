package dev.entanglement.hibernate.internal.ownership;

import dev.entanglement.hibernate.internal.store.ConnectionBudget;
import dev.entanglement.hibernate.internal.model.Values;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.core.Outgoing;
import dev.entanglement.hibernate.internal.store.Bookkeeping;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.hibernate.internal.store.ChangeLog;
import dev.entanglement.hibernate.internal.store.PendingRequestStore;
import dev.entanglement.hibernate.internal.store.StateDigest;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.proto.v1.RequestOutcome;
import dev.entanglement.proto.v1.RequestStatus;
import dev.entanglement.proto.v1.UpdateRequest;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import org.hibernate.StatelessSession;
import org.hibernate.Transaction;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.persister.entity.EntityPersister;
import dev.entanglement.hibernate.internal.store.SqlErrors;
import org.jboss.logging.Logger;

/**
 * The owner's side of update requests: decides a request in its own transaction (the object
 * must exist and be this node's, the version must match, the values must fit the mapping and the
 * database's constraints), writes it with its bookkeeping and a new serial, and offers the
 * resulting state to every peer like any change of this node's own objects.
 *
 * <h2>Concurrency</h2>
 * Stateless and thread-safe; runs on the node's pool.
 */
public final class RequestExecutor {
  private static final Logger LOG = Logger.getLogger(RequestExecutor.class);

  /** What deciding a request needs from the node. */
  public interface Host {
    String nodeName();

    long nextSerial();

    void finished(List<Long> serials);

    void publish(List<Outgoing> changes);

    /** Wall time, for the owner's record of applied requests. */
    default Instant now() {
      return Instant.now();
    }

    /** The policies' denial of a request at the object stage, or null. */
    default String deniedObject(String peer, EntangledType type, UpdateRequest request, Object incoming, Object stored) {
      return null;
    }
  }

  private final SessionFactoryImplementor factory;
  private final EntangledModel model;
  private final Bookkeeping bookkeeping;
  private final Host host;

  public RequestExecutor(SessionFactoryImplementor factory, EntangledModel model, Bookkeeping bookkeeping, Host host) {
    this.factory = factory;
    this.model = model;
    this.bookkeeping = bookkeeping;
    this.host = host;
  }

  /** Longest request key accepted (the column's width; origins send UUIDs). */
  private static final int MAX_REQUEST_KEY = 64;

  /** Tries of a decision whose database fails transiently (pool empty, connection lost), about 5 s in all. */
  private static final int MAX_TRIES = 10;

  /** A transient database failure while deciding: the decision is tried again. */
  private static final class TransientFailure extends RuntimeException {
    TransientFailure(Throwable cause) {
      super(cause);
    }
  }

  /** A decision's versioned write found the row changed since its read (the application committed it meanwhile). */
  private static final class RowChanged extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RowChanged(Throwable cause) {
      super(cause.getMessage(), cause);
    }
  }

  /** Whether a decision failed because its versioned write found the row changed since its read. */
  private static boolean rowChangedUnderIt(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof org.hibernate.StaleStateException || t instanceof jakarta.persistence.OptimisticLockException) {
        return true;
      }
    }
    return false;
  }

  /**
   * Decides a request; the outcome's request id is left for the caller to set. Never throws. A
   * transient database failure (the pool is empty, the connection was lost, a deadlock) is tried
   * again with backoff (50 ms doubling to 1 s, {@value #MAX_TRIES} tries); past them the answer
   * is {@code UNREACHABLE} with the cause, which is not final: the requester sends the request
   * again later. A busy pool must not turn a request into a refusal, nor lose it.
   *
   * <p>A request with a {@code request_key} this node already applied (its answer was lost and
   * the requester sent it again) is answered DONE with the serial it got then, not applied twice:
   * the key is recorded with the serial in the decision's transaction.
   */
  public RequestOutcome execute(String peer, UpdateRequest request) {
    long backoffMillis = 50;
    for (int tries = 1; ; tries++) {
      try {
        return decide(peer, request);
      } catch (RuntimeException e) {
        Throwable cause = e instanceof TransientFailure ? e.getCause() : e;
        if (e instanceof RowChanged && tries < MAX_TRIES) {
          // the application committed the object between this decision's read and its write: a
          // race, not a verdict; decided again on the new state, at once
          LOG.debugf("Node '%s' decides a request for %s#%s again: the object changed meanwhile (%s)", host.nodeName(),
              request.getEntity(), Values.shortText(request.getId()), e.getMessage());
          continue;
        }
        if (!(e instanceof TransientFailure) && !SqlErrors.isTransient(e)) {
          LOG.errorf(e, "Could not decide a request for %s#%s", request.getEntity(), Values.shortText(request.getId()));
          return refused(RejectReason.INTERNAL, "internal error at the owner '%s': %s".formatted(host.nodeName(), e));
        }
        if (tries == MAX_TRIES) {
          LOG.warnf("Node '%s' refuses a request for %s#%s: its database kept failing for %d tries (%s)", host.nodeName(),
              request.getEntity(), Values.shortText(request.getId()), tries, cause);
          return outcome(RequestStatus.UNREACHABLE, "the owner '%s' could not reach its database: %s"
              .formatted(host.nodeName(), cause));
        }
        LOG.debugf("Node '%s' tries a request for %s#%s again in %d ms: %s", host.nodeName(), request.getEntity(),
            Values.shortText(request.getId()), backoffMillis, cause);
        try {
          Thread.sleep(backoffMillis); // the decisions are serial: the next ones wait, as they would for the database
        } catch (InterruptedException interrupted) {
          Thread.currentThread().interrupt();
          return outcome(RequestStatus.UNREACHABLE, "the owner '%s' is shutting down".formatted(host.nodeName()));
        }
        backoffMillis = Math.min(backoffMillis * 2, 1000);
      }
    }
  }

  private RequestOutcome decide(String peer, UpdateRequest request) {
    String self = host.nodeName();
    String requestKey = request.getRequestKey();
    if (requestKey.length() > MAX_REQUEST_KEY || request.getOrigin().length() > MAX_REQUEST_KEY) {
      return refused(RejectReason.MALFORMED, "a request_key of %d characters or an origin of %d (at most %d each)"
          .formatted(requestKey.length(), request.getOrigin().length(), MAX_REQUEST_KEY));
    }
    EntangledType type = model.byName(request.getEntity());
    if (type == null) {
      return refused(RejectReason.UNKNOWN_ENTITY, "node '%s' has no @Entangled entity named '%s'"
          .formatted(self, request.getEntity()));
    }
    Object id;
    try {
      id = type.idCodec().decode(request.getId(), type.name() + " id");
    } catch (DecodeException e) {
      return refused(e.reason(), e.getMessage());
    }
    if (id == null) {
      return refused(RejectReason.MALFORMED, "a request for " + type.name() + " without an id");
    }
    String idText = type.idText(id);
    String key = type.key(idText);
    EntityPersister persister = type.persister();
    long serial = -1;
    Change result = null;
    try (var permit = ConnectionBudget.of(factory).enter(); StatelessSession session = factory.openStatelessSession()) {
      Transaction tx = session.beginTransaction();
      try {
        Connection connection = session.doReturningWork(c -> c);
        SharedSessionContractImplementor implementor = (SharedSessionContractImplementor) session;
        if (!requestKey.isEmpty()) {
          long earlier = PendingRequestStore.appliedSerial(connection, request.getOrigin(), requestKey);
          if (earlier >= 0) {
            tx.rollback();
            LOG.debugf("Node '%s' applied request %s of '%s' before (serial %d): answered again", self, requestKey,
                request.getOrigin(), earlier);
            return RequestOutcome.newBuilder().setStatus(RequestStatus.DONE).setSerial(earlier).build();
          }
        }
        ObjectRow known = bookkeeping.read(connection, type.name(), idText);
        if (known != null && !known.deleted() && !known.owner().equals(self)) {
          tx.rollback();
          return refused(RejectReason.NOT_OWNER, "%s is owned by '%s', not by '%s'%s".formatted(key, known.owner(), self,
              self.equals(known.handoverTo()) ? " (it is being handed to '" + self + "', which has not taken it over yet)" : ""));
        }
        if (known != null && !known.deleted() && known.handoverTo() != null) {
          tx.rollback();
          return outcome(RequestStatus.CONFLICT, "%s is being handed over from '%s' to '%s'; retry the request"
              .formatted(key, self, known.handoverTo()));
        }
        Object existing = session.get(persister.getEntityName(), id);
        RequestKind kind = request.getKind();
        Object[] state = null;
        if (kind == RequestKind.CREATE) {
          if (existing != null) {
            tx.rollback();
            return outcome(RequestStatus.CONFLICT, "%s exists already at its owner '%s'".formatted(key, self));
          }
          Object created = persister.instantiate(id, implementor);
          state = type.decode(request.getAttributesList(), persister.getValues(created), loader(session));
          if (persister.isVersioned() && state[persister.getVersionPropertyIndex()] == null) {
            state[persister.getVersionPropertyIndex()] = firstVersion(persister);
          }
          persister.setValues(created, state);
          String denial = host.deniedObject(peer, type, request, created, null);
          if (denial != null) {
            tx.rollback();
            return refused(RejectReason.POLICY, denial);
          }
          persister.getInsertCoordinator().insert(created, id, state, implementor);
          type.writeCollections(implementor, id, created, state, false, request.getAttributesList());
        } else if (existing == null) {
          tx.rollback();
          return outcome(RequestStatus.NOT_FOUND, "%s does not exist at its owner '%s'".formatted(key, self));
        } else if (kind == RequestKind.REMOVE) {
          String denial = host.deniedObject(peer, type, request, null, existing);
          if (denial != null) {
            tx.rollback();
            return refused(RejectReason.POLICY, denial);
          }
          session.delete(existing);
        } else if (kind == RequestKind.UPDATE) {
          Object current = persister.isVersioned() ? persister.getVersion(existing) : null;
          if (request.hasExpectedVersion() && current != null
              && !type.version(persister.getValues(existing)).equals(request.getExpectedVersion())) {
            tx.rollback();
            return outcome(RequestStatus.CONFLICT, "%s changed at its owner '%s' since the version the request was made from (%s, now %s)"
                .formatted(key, self, Values.shortText(request.getExpectedVersion()), current));
          }
          Object[] before = type.values(session, existing).clone();
          state = type.decode(request.getAttributesList(), persister.getValues(existing), loader(session));
          Object incoming = persister.instantiate(id, implementor);
          persister.setValues(incoming, state);
          Object stored = persister.instantiate(id, implementor);
          persister.setValues(stored, before);
          String denial = host.deniedObject(peer, type, request, incoming, stored);
          if (denial != null) {
            tx.rollback();
            return refused(RejectReason.POLICY, denial);
          }
          if (persister.isVersioned()) {
            state[persister.getVersionPropertyIndex()] = nextVersion(current);
          }
          persister.setValues(existing, state);
          persister.getUpdateCoordinator().update(existing, id, null, state, current, null, null, false, implementor);
          type.writeCollections(implementor, id, existing, state, true, request.getAttributesList());
        } else {
          tx.rollback();
          return refused(RejectReason.MALFORMED, "a request for %s with kind %s".formatted(key, kind));
        }
        implementor.getJdbcCoordinator().executeBatch();
        serial = host.nextSerial();
        Change decided = kind == RequestKind.REMOVE ? type.delete(id, self, serial) : type.upsert(id, state, self, serial);
        // with its digest, as capture writes it: adoption then skips the object while its row is unchanged
        java.util.ArrayList<Long> digest = new java.util.ArrayList<>(1);
        digest.add(StateDigest.of(decided));
        bookkeeping.write(connection, List.of(new ObjectRow(type.name(), idText, self, serial, kind == RequestKind.REMOVE)),
            digest);
        if (!requestKey.isEmpty()) {
          PendingRequestStore.applied(connection, request.getOrigin(), requestKey, serial, host.now());
        }
        if (known != null && known.epoch() > 0) {
          decided = decided.toBuilder().setEpoch(known.epoch()).build();
        }
        if (!type.coalesce()) {
          // as capture does: every state of such a type is logged with its bookkeeping row
          bookkeeping.changeLog().append(connection, List.of(
              new ChangeLog.Entry(self, serial, type.name(), idText, decided.toByteArray())));
        }
        tx.commit();
        result = decided;
      } catch (DecodeException e) {
        rollback(tx);
        return refused(e.reason(), e.getMessage());
      } catch (RuntimeException | SQLException e) {
        rollback(tx);
        if (SqlErrors.isTransient(e)) {
          throw new TransientFailure(e);
        }
        if (rowChangedUnderIt(e)) {
          throw new RowChanged(e); // decided again by execute
        }
        String message = SqlErrors.message(e);
        if (message == null) {
          LOG.errorf(e, "Could not decide a request for %s", key);
          return refused(RejectReason.INTERNAL, "internal error at the owner '%s': %s".formatted(self, e));
        }
        return refused(RejectReason.CONSTRAINT_VIOLATION, "the owner '%s' refused %s: %s".formatted(self, key, message));
      }
    } finally {
      if (serial >= 0) {
        try {
          if (result != null) {
            host.publish(List.of(new Outgoing(key, type.priority(), type.coalesce(), result)));
          }
        } finally {
          host.finished(List.of(serial));
        }
      }
    }
    return RequestOutcome.newBuilder().setStatus(RequestStatus.DONE).setSerial(serial).build();
  }

  private static dev.entanglement.hibernate.internal.model.PropertyCodec.ReferenceLoader loader(StatelessSession session) {
    return dev.entanglement.hibernate.internal.model.PropertyCodec.ReferenceLoader.of(
        (org.hibernate.engine.spi.SharedSessionContractImplementor) session,
        (referenced, referencedId) -> session.get(referenced.persister().getEntityName(), referencedId));
  }

  private static Object firstVersion(EntityPersister persister) {
    Class<?> type = persister.getVersionMapping().getJavaType().getJavaTypeClass();
    if (type == Integer.class || type == int.class) {
      return 0;
    } else if (type == Long.class || type == long.class) {
      return 0L;
    } else if (type == Short.class || type == short.class) {
      return (short) 0;
    }
    return Instant.now();
  }

  private static Object nextVersion(Object current) {
    if (current instanceof Integer i) {
      return i + 1;
    } else if (current instanceof Long l) {
      return l + 1;
    } else if (current instanceof Short s) {
      return (short) (s + 1);
    }
    return Instant.now();
  }

  private static void rollback(Transaction tx) {
    if (tx.isActive()) {
      tx.rollback();
    }
  }

  private static RequestOutcome refused(RejectReason reason, String message) {
    return RequestOutcome.newBuilder().setStatus(RequestStatus.REFUSED).setReason(reason).setMessage(message).build();
  }

  private static RequestOutcome outcome(RequestStatus status, String message) {
    return RequestOutcome.newBuilder().setStatus(status).setMessage(message).build();
  }
}
