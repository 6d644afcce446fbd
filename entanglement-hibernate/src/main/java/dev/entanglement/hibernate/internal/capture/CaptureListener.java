package dev.entanglement.hibernate.internal.capture;

import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.event.spi.PostDeleteEvent;
import org.hibernate.event.spi.PostDeleteEventListener;
import org.hibernate.event.spi.PostInsertEvent;
import org.hibernate.event.spi.PostInsertEventListener;
import org.hibernate.event.spi.PostUpdateEvent;
import org.hibernate.event.spi.PostUpdateEventListener;
import org.hibernate.persister.entity.EntityPersister;
import org.jboss.logging.Logger;

/**
 * Records flushed inserts, updates and deletes of replicated entities into the transaction's
 * {@link TransactionChanges} (as Envers records into its AuditProcess). Writes made by stateless
 * sessions are not captured: the plugin applies peers' changes through one, so they never echo.
 *
 * <h2>Concurrency</h2>
 * Called on application threads. The only shared state is {@code open}, a concurrent map from a
 * session to its transaction's changes; each entry is confined to its session's thread.
 *
 * <p>Never throws into the application's flush or commit: a failure is logged and reported to the
 * sink, which marks the node for repair.
 */
public final class CaptureListener implements PostInsertEventListener, PostUpdateEventListener,
    PostDeleteEventListener, org.hibernate.event.spi.PreUpdateEventListener,
    org.hibernate.event.spi.PreDeleteEventListener {
  private static final Logger LOG = Logger.getLogger(CaptureListener.class);
  private static final long serialVersionUID = 1L;

  private final transient Supplier<CaptureSink> sink;
  private final transient Supplier<EntangledModel> model;
  private final transient Map<SharedSessionContractImplementor, TransactionChanges> open =
      new ConcurrentHashMap<>();

  /**
   * @param sink the running node; null until it has started (nothing is captured before)
   * @param model the replicated types; null until the node has started
   */
  public CaptureListener(Supplier<CaptureSink> sink, Supplier<EntangledModel> model) {
    this.sink = sink;
    this.model = model;
  }

  @Override
  public void onPostInsert(PostInsertEvent event) {
    capture(event.getSession(), event.getPersister(), event.getId(), event.getState(), true);
  }

  @Override
  public void onPostUpdate(PostUpdateEvent event) {
    capture(event.getSession(), event.getPersister(), event.getId(), event.getState(), false);
  }

  @Override
  public void onPostDelete(PostDeleteEvent event) {
    capture(event.getSession(), event.getPersister(), event.getId(), null, false);
  }

  @Override
  public boolean requiresPostCommitHandling(EntityPersister persister) {
    return false;
  }

  /**
   * An update of an object another node owns is not written here: it becomes an update request
   * to the owner (vetoed locally), with the attributes the application changed.
   */
  @Override
  public boolean onPreUpdate(org.hibernate.event.spi.PreUpdateEvent event) {
    return request(event.getSession(), event.getPersister(), event.getId(),
        dev.entanglement.proto.v1.RequestKind.UPDATE, event.getOldState(), event.getState());
  }

  /** A delete of an object another node owns becomes a request to the owner (vetoed locally). */
  @Override
  public boolean onPreDelete(org.hibernate.event.spi.PreDeleteEvent event) {
    return request(event.getSession(), event.getPersister(), event.getId(),
        dev.entanglement.proto.v1.RequestKind.REMOVE, event.getDeletedState(), null);
  }

  private boolean request(SharedSessionContractImplementor session, EntityPersister persister, Object id,
      dev.entanglement.proto.v1.RequestKind kind, Object[] old, Object[] now) {
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
      String owner = target.ownership().remoteOwner(key);
      if (owner == null) {
        return false; // this node's own object: written and captured as usual
      }
      changesOf(session, target).recordRequest(new dev.entanglement.hibernate.internal.ownership.ForwardRequest(
          type, id, key, owner, kind,
          now == null ? java.util.Map.of() : type.changedAttributes(old, now), type.version(old)));
      return true;
    } catch (RuntimeException e) {
      LOG.errorf(e, "Entanglement could not turn a change of %s#%s into an update request", persister.getEntityName(), id);
      return false;
    }
  }

  private TransactionChanges changesOf(SharedSessionContractImplementor session, CaptureSink target) {
    TransactionChanges changes = open.get(session);
    if (changes == null) {
      changes = new TransactionChanges(target, () -> open.remove(session));
      open.put(session, changes);
      session.getTransactionCompletionCallbacks().registerCallback(
          (org.hibernate.engine.spi.TransactionCompletionCallbacks.BeforeCompletionCallback) changes);
      session.getTransactionCompletionCallbacks().registerCallback(
          (org.hibernate.engine.spi.TransactionCompletionCallbacks.AfterCompletionCallback) changes);
    }
    return changes;
  }

  private void capture(SharedSessionContractImplementor session, EntityPersister persister,
      Object id, Object[] state, boolean insert) {
    try {
      if (session.isStatelessSession()) {
        return;
      }
      EntangledModel types = model.get();
      CaptureSink target = sink.get();
      if (types == null || target == null) {
        return;
      }
      EntangledType type = types.byEntityName(persister.getEntityName());
      if (type == null) {
        return;
      }
      if (target.ownership().remoteOwner(type.key(type.idText(id))) != null) {
        return; // another node's object: the pre-event turned it into a request (Hibernate still fires post-delete after a veto)
      }
      TransactionChanges changes = changesOf(session, target);
      if (insert) {
        changes.recordInsert(type, id, state);
      } else {
        changes.record(type, id, state);
      }
    } catch (RuntimeException e) {
      LOG.errorf(e, "Entanglement could not capture a change of %s#%s", persister.getEntityName(), id);
      CaptureSink target = sink.get();
      if (target != null) {
        target.captureFailed(persister.getEntityName() + "#" + id, e);
      }
    }
  }
}
