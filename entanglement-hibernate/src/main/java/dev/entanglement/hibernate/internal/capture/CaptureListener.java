package dev.entanglement.hibernate.internal.capture;

import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.ownership.ForwardRequest;
import dev.entanglement.proto.v1.RequestKind;
import java.util.function.Supplier;
import org.hibernate.collection.spi.AbstractPersistentCollection;
import org.hibernate.engine.spi.EntityEntry;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.engine.spi.Status;
import org.hibernate.event.spi.AbstractCollectionEvent;
import org.hibernate.event.spi.PostCollectionRecreateEvent;
import org.hibernate.event.spi.PostCollectionRecreateEventListener;
import org.hibernate.event.spi.PostCollectionRemoveEvent;
import org.hibernate.event.spi.PostCollectionRemoveEventListener;
import org.hibernate.event.spi.PostCollectionUpdateEvent;
import org.hibernate.event.spi.PostCollectionUpdateEventListener;
import org.hibernate.event.spi.PostDeleteEvent;
import org.hibernate.event.spi.PostDeleteEventListener;
import org.hibernate.event.spi.PostInsertEvent;
import org.hibernate.event.spi.PostInsertEventListener;
import org.hibernate.event.spi.PostUpdateEvent;
import org.hibernate.event.spi.PostUpdateEventListener;
import org.hibernate.persister.entity.EntityPersister;
import org.jboss.logging.Logger;

/**
 * Records flushed inserts, updates and deletes of this node's replicated entities into the
 * transaction's {@link TransactionChanges} (as Envers records into its AuditProcess). Writes made
 * by stateless sessions are not captured: the plugin applies peers' changes through one, so they
 * never echo. Writes of objects another node owns are the {@link OwnershipGuard}'s (it vetoes
 * them and records requests instead).
 *
 * <h2>Concurrency</h2>
 * Called on application threads; holds no mutable state of its own. The per-transaction record
 * comes from {@link OpenTransactions}, confined to the session's thread.
 *
 * <p>Never throws into the application's flush or commit: a failure is logged and reported to the
 * sink, which marks the node for repair.
 */
public final class CaptureListener implements PostInsertEventListener, PostUpdateEventListener,
    PostDeleteEventListener, PostCollectionRecreateEventListener, PostCollectionUpdateEventListener,
    PostCollectionRemoveEventListener {
  private static final Logger LOG = Logger.getLogger(CaptureListener.class);
  private static final long serialVersionUID = 1L;

  private final transient Supplier<CaptureSink> sink;
  private final transient Supplier<EntangledModel> model;
  private final transient OpenTransactions transactions;

  /**
   * @param sink the running node; null until it has started (nothing is captured before)
   * @param model the replicated types; null until the node has started
   * @param transactions the open transactions' changes, shared with the {@link OwnershipGuard}
   */
  public CaptureListener(Supplier<CaptureSink> sink, Supplier<EntangledModel> model, OpenTransactions transactions) {
    this.sink = sink;
    this.model = model;
    this.transactions = transactions;
  }

  @Override
  public void onPostInsert(PostInsertEvent event) {
    capture(event.getSession(), event.getPersister(), event.getId(), event.getState(), null, true);
  }

  @Override
  public void onPostUpdate(PostUpdateEvent event) {
    capture(event.getSession(), event.getPersister(), event.getId(), event.getState(), event.getOldState(), false);
  }

  @Override
  public void onPostDelete(PostDeleteEvent event) {
    capture(event.getSession(), event.getPersister(), event.getId(), null, null, false);
  }

  @Override
  public void onPostRecreateCollection(PostCollectionRecreateEvent event) {
    captureCollection(event);
  }

  @Override
  public void onPostUpdateCollection(PostCollectionUpdateEvent event) {
    captureCollection(event);
  }

  @Override
  public void onPostRemoveCollection(PostCollectionRemoveEvent event) {
    captureCollection(event);
  }

  /**
   * A flushed change of a collection an object owns (element added, removed, moved; collection
   * replaced) changes the object's replicated state, though Hibernate finds the object itself
   * unchanged and fires no entity event: the object is recorded with its current state.
   */
  private void captureCollection(AbstractCollectionEvent event) {
    // the collection's session, not the event's: a stateless session (the plugin's own apply)
    // fires collection events without a source, whose getSession() throws
    SharedSessionContractImplementor session =
        event.getCollection() instanceof AbstractPersistentCollection<?> collection ? collection.getSession() : null;
    Object owner = event.getAffectedOwnerOrNull();
    Object id = event.getAffectedOwnerIdOrNull();
    if (session == null || session.isStatelessSession() || owner == null || id == null) {
      return; // not an application's session, or an owner Hibernate no longer knows
    }
    EntityPersister persister = null;
    try {
      EntangledModel types = model.get();
      CaptureSink target = sink.get();
      if (types == null || target == null) {
        return;
      }
      persister = session.getEntityPersister(event.getAffectedOwnerEntityName(), owner);
      EntangledType type = types.byEntityName(persister.getEntityName());
      if (type == null || !type.replicatesCollection(event.getCollectionPersister().getRole())) {
        return;
      }
      EntityEntry entry = session.getPersistenceContextInternal().getEntry(owner);
      if (entry != null && (entry.getStatus() == Status.DELETED || entry.getStatus() == Status.GONE)) {
        return; // its deletion is the change
      }
      String key = type.key(type.idText(id));
      String remote = target.remoteOwner(session, key);
      if (remote != null) {
        // another node's object: the whole collection goes to its owner as an update request;
        // Hibernate cannot veto a collection's rows, so they stay written here until the owner's decision replaces them
        transactions.of(session, target).recordRequest(new ForwardRequest(type, id, key, remote, RequestKind.UPDATE,
            type.collectionAttribute(event.getCollectionPersister().getRole(), event.getCollection()),
            type.version(persister.getValues(owner))));
        return;
      }
    } catch (RuntimeException e) {
      String what = (persister == null ? event.getAffectedOwnerEntityName() : persister.getEntityName()) + "#" + id;
      LOG.errorf(e, "Entanglement could not capture a collection change of %s", what);
      CaptureSink target = sink.get();
      if (target != null) {
        target.captureFailed(what, e);
      }
      return;
    }
    capture(session, persister, id, persister.getValues(owner), null, false);
  }

  @Override
  public boolean requiresPostCommitHandling(EntityPersister persister) {
    return false;
  }

  private void capture(SharedSessionContractImplementor session, EntityPersister persister,
      Object id, Object[] state, Object[] oldState, boolean insert) {
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
      if (!insert && target.remoteOwner(session, type.key(type.idText(id))) != null) {
        return; // another node's object: the guard turned it into a request (Hibernate still fires post-delete after a veto)
      }
      TransactionChanges changes = transactions.of(session, target);
      if (insert) {
        changes.recordInsert(type, id, state);
      } else {
        changes.record(type, id, state, oldState);
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
