package dev.entanglement.hibernate.internal.capture;

import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.ownership.ForwardRequest;
import dev.entanglement.proto.v1.RequestKind;
import java.util.Map;
import java.util.function.Supplier;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.event.spi.PreDeleteEvent;
import org.hibernate.event.spi.PreDeleteEventListener;
import org.hibernate.event.spi.PreUpdateEvent;
import org.hibernate.event.spi.PreUpdateEventListener;
import org.hibernate.persister.entity.EntityPersister;
import org.jboss.logging.Logger;

/**
 * Vetoes the application's updates and deletes of objects another node owns, turning each into an
 * update request to the owner (with the attributes the application changed), recorded in the
 * transaction's {@link TransactionChanges} and sent after it commits. Writes made by stateless
 * sessions (the plugin's own) pass.
 *
 * <h2>Concurrency</h2>
 * Called on application threads; holds no mutable state of its own. The per-transaction record
 * comes from {@link OpenTransactions}, confined to the session's thread.
 *
 * <p>Never throws into the application's flush: a failure to build a request is logged and the
 * write is let through (not vetoed), as before this class was split from the capture listener.
 */
public final class OwnershipGuard implements PreUpdateEventListener, PreDeleteEventListener {
  private static final Logger LOG = Logger.getLogger(OwnershipGuard.class);
  private static final long serialVersionUID = 1L;

  private final transient Supplier<CaptureSink> sink;
  private final transient Supplier<EntangledModel> model;
  private final transient OpenTransactions transactions;

  /**
   * @param sink the running node; null until it has started (nothing is vetoed before)
   * @param model the replicated types; null until the node has started
   * @param transactions the open transactions' changes, shared with the {@link CaptureListener}
   */
  public OwnershipGuard(Supplier<CaptureSink> sink, Supplier<EntangledModel> model, OpenTransactions transactions) {
    this.sink = sink;
    this.model = model;
    this.transactions = transactions;
  }

  /** An update of an object another node owns becomes an update request (vetoed locally). */
  @Override
  public boolean onPreUpdate(PreUpdateEvent event) {
    return veto(event.getSession(), event.getPersister(), event.getId(), RequestKind.UPDATE, event.getOldState(),
        event.getState());
  }

  /** A delete of an object another node owns becomes a removal request (vetoed locally). */
  @Override
  public boolean onPreDelete(PreDeleteEvent event) {
    return veto(event.getSession(), event.getPersister(), event.getId(), RequestKind.REMOVE, event.getDeletedState(),
        null);
  }

  /** Whether the write is vetoed: true when another node owns the object and a request was recorded. */
  private boolean veto(SharedSessionContractImplementor session, EntityPersister persister, Object id,
      RequestKind kind, Object[] old, Object[] now) {
    try {
      if (session.isStatelessSession()) {
        return false;
      }
      EntangledModel types = model.get();
      CaptureSink target = sink.get();
      if (types == null || target == null) {
        return false;
      }
      EntangledType type = types.byEntityName(persister.getEntityName());
      if (type == null) {
        return false;
      }
      String key = type.key(type.idText(id));
      String owner = target.remoteOwner(session, key);
      if (owner == null) {
        return false; // this node's own object: written and captured as usual
      }
      transactions.of(session, target).recordRequest(new ForwardRequest(type, id, key, owner, kind,
          now == null ? Map.of() : type.changedAttributes(old, now), type.version(old)));
      return true;
    } catch (RuntimeException e) {
      LOG.errorf(e, "Entanglement could not turn a change of %s#%s into an update request", persister.getEntityName(), id);
      return false;
    }
  }
}
