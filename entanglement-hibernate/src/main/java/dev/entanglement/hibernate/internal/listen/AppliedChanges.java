package dev.entanglement.hibernate.internal.listen;

import dev.entanglement.hibernate.ChangeEvent;
import dev.entanglement.hibernate.ChangeEvent.Kind;
import dev.entanglement.hibernate.ChangeListener;
import dev.entanglement.hibernate.internal.core.LimitedLog;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.ConnectionBudget;
import dev.entanglement.proto.v1.Change;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.hibernate.StatelessSession;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import org.hibernate.persister.collection.CollectionPersister;
import org.hibernate.persister.entity.EntityPersister;
import org.hibernate.type.CollectionType;
import org.hibernate.type.Type;
import org.jboss.logging.Logger;

/**
 * What follows a peer's change once it committed at this node: the object leaves Hibernate's
 * second-level cache at once, and the {@link ChangeListener}s of its type hear of it on this
 * node's listener thread, in commit order.
 *
 * <p><b>Second-level cache.</b> Applied changes are written through the persister, which
 * Hibernate's cache never sees, so after each commit the object's entity data and the cached
 * collections it owns are evicted and, with the query cache on, the query results over its tables
 * are invalidated: on the apply thread, before the next batch is applied. A read between the
 * commit and the eviction (microseconds) can still get the old state.
 *
 * <p><b>Delivery.</b> Events of types somebody listens to wait in one queue of
 * {@code entanglement.listeners.queue} events. When it is full the apply thread waits for room:
 * backpressure, the node's apply pauses and gRPC flow control holds its peers back; an event is
 * never dropped while the node runs (those still queued when the node stops are, with the
 * thread). An upsert's detached entity is read by the listener thread just before the listeners
 * are called (one primary-key read per event, in a stateless session, in the plugin's connection
 * budget): it is the row as it is then, so when later changes of the object already committed it
 * shows their state (their events follow), and it is empty when the row is gone by then.
 *
 * <h2>Concurrency</h2>
 * {@code registrations} is copy-on-write (application threads add and remove). The queue is filled
 * only by the apply thread (one batch at a time per node, under the applier's lock, so in commit
 * order) and drained only by the one listener thread, which alone calls the listeners and reads
 * their entities. {@code thread} is guarded by {@code this} ({@link #start}, {@link #stop});
 * {@code running} is volatile.
 */
public final class AppliedChanges {
  private static final Logger LOG = Logger.getLogger(AppliedChanges.class);
  /** Events handed to the listeners per stateless session at most. */
  private static final int DRAIN = 256;

  private final String nodeName;
  private final SessionFactoryImplementor factory;
  private final EntangledModel model;
  private final BlockingQueue<Pending> queue;
  private final List<Registration<?>> registrations = new CopyOnWriteArrayList<>();
  private final LimitedLog log = new LimitedLog(LOG);
  private volatile boolean running;
  private Thread thread;

  public AppliedChanges(String nodeName, SessionFactoryImplementor factory, EntangledModel model, int capacity) {
    this.nodeName = nodeName;
    this.factory = factory;
    this.model = model;
    this.queue = new ArrayBlockingQueue<>(capacity);
  }

  /**
   * Registers a listener of the changes of {@code type} (an {@code @Entangled} entity or a
   * supertype of one).
   *
   * @throws IllegalArgumentException naming the type when no entangled entity is one
   */
  public <T> void add(Class<T> type, ChangeListener<T> listener) {
    Objects.requireNonNull(type, "addChangeListener: type is null");
    Objects.requireNonNull(listener, "addChangeListener: listener is null");
    List<String> entangled = new ArrayList<>();
    boolean matches = false;
    for (EntangledType t : model.types()) {
      entangled.add(t.persister().getMappedClass().getName());
      matches |= type.isAssignableFrom(t.persister().getMappedClass());
    }
    if (!matches) {
      throw new IllegalArgumentException(("addChangeListener: %s is neither an @Entangled entity nor a supertype "
          + "of one in this persistence unit; expected one of %s").formatted(type.getName(), entangled));
    }
    registrations.add(new Registration<>(type, listener));
  }

  /** Stops calling the listener (every registration of it); events already delivered stay so. */
  public void remove(ChangeListener<?> listener) {
    registrations.removeIf(registration -> registration.listener() == listener);
  }

  /** Starts the listener thread (the member holds the node's links and applies from now on). */
  public synchronized void start() {
    if (thread != null) {
      return;
    }
    running = true;
    thread = new Thread(this::deliverLoop, "entanglement-listeners-" + nodeName);
    thread.setDaemon(true);
    thread.start();
  }

  /** Stops the listener thread; events not delivered yet are dropped (they are durable in the database). */
  public synchronized void stop() {
    running = false;
    if (thread == null) {
      return;
    }
    thread.interrupt();
    try {
      thread.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) {
      LOG.warnf("Entanglement node '%s': a change listener did not return within 5 s of the node stopping", nodeName);
    }
    thread = null;
    queue.clear();
  }

  /**
   * Changes a peer sent that just committed here (apply thread, in commit order): evicts them from
   * the second-level cache and queues their events, waiting for room when the queue is full.
   * Never throws.
   *
   * @param peer the peer they came from, or null (a parked change applied on retry)
   * @param inserted those of the changes (by identity) that inserted an object this node did not hold
   */
  public void committed(String peer, List<Change> changes, Set<Change> inserted) {
    Set<EntityPersister> touched = new LinkedHashSet<>();
    List<Pending> events = new ArrayList<>(changes.size());
    for (Change change : changes) {
      try {
        EntangledType type = change.getEphemeral() ? null : model.byName(change.getEntity());
        if (type == null) {
          continue;
        }
        Object id = type.idCodec().decode(change.getId(), type.name() + " id");
        Kind kind = switch (change.getOperation()) {
          case WITHDRAW -> Kind.WITHDRAWN;
          case DELETE -> Kind.REMOVED;
          default -> inserted.contains(change) ? Kind.INSERTED : Kind.UPDATED;
        };
        String owner = change.getHandoverTo().isEmpty() ? change.getOwner() : change.getHandoverTo();
        evict(type.persister(), id);
        touched.add(type.persister());
        events.add(new Pending(kind, type, id, owner, peer));
      } catch (DecodeException | RuntimeException e) {
        log.warn("evict", "Entanglement node '%s': could not evict or announce %s#%s: %s".formatted(
            nodeName, change.getEntity(), change.getId(), e));
      }
    }
    invalidateQueries(touched);
    for (Pending event : events) {
      queue(event);
    }
  }

  /**
   * An object a sweep or an owner removal deleted, just committed (apply thread, in commit order).
   * Never throws.
   *
   * @param peer the peer whose full synchronization swept it, or null (an owner removal)
   */
  public void swept(String peer, EntangledType type, Object id, String owner) {
    try {
      evict(type.persister(), id);
      invalidateQueries(Set.of(type.persister()));
      queue(new Pending(Kind.REMOVED, type, id, owner, peer));
    } catch (RuntimeException e) {
      log.warn("evict", "Entanglement node '%s': could not evict or announce %s#%s: %s".formatted(
          nodeName, type.name(), id, e));
    }
  }

  private void evict(EntityPersister persister, Object id) {
    if (persister.canWriteToCache()) {
      factory.getCache().evictEntityData(persister.getEntityName(), id);
    }
    for (Type property : persister.getPropertyTypes()) {
      if (property instanceof CollectionType collection) {
        CollectionPersister descriptor = factory.getMappingMetamodel().getCollectionDescriptor(collection.getRole());
        if (descriptor.hasCache()) {
          factory.getCache().evictCollectionData(collection.getRole(), id);
        }
      }
    }
  }

  /** With the query cache on: cached results over these entities' tables are stale from now on. */
  private void invalidateQueries(Set<EntityPersister> persisters) {
    if (persisters.isEmpty() || !factory.getSessionFactoryOptions().isQueryCacheEnabled()) {
      return;
    }
    Set<String> spaces = new LinkedHashSet<>();
    for (EntityPersister persister : persisters) {
      spaces.addAll(List.of(persister.getPropertySpaces()));
    }
    try (StatelessSession session = factory.openStatelessSession()) {
      factory.getCache().getTimestampsCache().invalidate(spaces.toArray(String[]::new),
          (SharedSessionContractImplementor) session);
    }
  }

  private void queue(Pending event) {
    if (!running || !listened(event.type())) {
      return;
    }
    try {
      while (!queue.offer(event, 100, TimeUnit.MILLISECONDS)) {
        if (!running) {
          return; // the node stops
        }
        log.warn("full", ("Entanglement node '%s': its change listeners are %d events behind "
            + "(entanglement.listeners.queue); applying waits for them").formatted(nodeName, queue.size()));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // the node stops
    }
  }

  private boolean listened(EntangledType type) {
    for (Registration<?> registration : registrations) {
      if (registration.type().isAssignableFrom(type.persister().getMappedClass())) {
        return true;
      }
    }
    return false;
  }

  private void deliverLoop() {
    List<Pending> batch = new ArrayList<>(DRAIN);
    while (running) {
      try {
        Pending first = queue.poll(200, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        queue.drainTo(batch, DRAIN - 1);
        deliver(batch);
      } catch (InterruptedException e) {
        // stop() ends the loop through running
      } catch (RuntimeException e) {
        log.warn("deliver", "Entanglement node '%s': could not deliver change events: %s".formatted(nodeName, e));
      } finally {
        batch.clear();
      }
    }
  }

  private void deliver(List<Pending> batch) {
    Reader reader = new Reader();
    try {
      for (Pending event : batch) {
        List<Registration<?>> hearing = new ArrayList<>(2);
        for (Registration<?> registration : registrations) {
          if (registration.type().isAssignableFrom(event.type().persister().getMappedClass())) {
            hearing.add(registration);
          }
        }
        if (hearing.isEmpty()) {
          continue;
        }
        Object entity = event.kind() == Kind.INSERTED || event.kind() == Kind.UPDATED ? reader.read(event) : null;
        for (Registration<?> registration : hearing) {
          call(registration, event, entity);
        }
      }
    } finally {
      reader.close();
    }
  }

  private <T> void call(Registration<T> registration, Pending event, Object entity) {
    @SuppressWarnings("unchecked")
    Class<T> entityType = (Class<T>) event.type().persister().getMappedClass();
    T typed = registration.type().isInstance(entity) ? registration.type().cast(entity) : null;
    ChangeEvent<T> changeEvent = new ChangeEvent<>(event.kind(), entityType, event.id(), event.owner(),
        event.peer(), Optional.ofNullable(typed));
    try {
      registration.listener().changed(changeEvent);
    } catch (RuntimeException | AssertionError e) {
      String listener = registration.listener().getClass().getName();
      log.warn("listener|" + listener, "Entanglement node '%s': change listener %s failed on %s %s#%s: %s"
          .formatted(nodeName, listener, event.kind(), event.type().name(), event.id(), e));
      LOG.debugf(e, "Change listener %s failed", listener);
    }
  }

  /** Reads entities for one drained batch of events, in one stateless session opened on first need. */
  private final class Reader {
    private ConnectionBudget.Permit permit;
    private StatelessSession session;

    Object read(Pending event) {
      try {
        if (session == null) {
          permit = ConnectionBudget.of(factory).enter();
          session = factory.openStatelessSession();
        }
        return session.get(event.type().persister().getEntityName(), event.id());
      } catch (RuntimeException e) {
        log.warn("read", ("Entanglement node '%s': could not read %s#%s for its change listeners (the event is "
            + "delivered without the entity): %s").formatted(nodeName, event.type().name(), event.id(), e));
        close();
        return null;
      }
    }

    void close() {
      try {
        if (session != null) {
          session.close();
        }
      } finally {
        session = null;
        if (permit != null) {
          permit.close();
          permit = null;
        }
      }
    }
  }

  private record Pending(Kind kind, EntangledType type, Object id, String owner, String peer) {}

  private record Registration<T>(Class<T> type, ChangeListener<T> listener) {}
}
