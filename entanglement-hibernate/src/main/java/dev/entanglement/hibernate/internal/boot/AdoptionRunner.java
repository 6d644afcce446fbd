package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.AdoptionStatus;
import dev.entanglement.hibernate.AdoptionStatus.State;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.Adoption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Runs adoptions of existing rows (docs/adoption.md) on a thread of its own, one at a time,
 * chunk after chunk ({@link Adoption#next}), offering each committed chunk to the connected peers
 * as capture does its commits; peers not connected get the rows by catch-up. Started with the
 * node's links ({@code entanglement.adopt.on_start}, or an adoption a stop interrupted) and by
 * {@link #adopt}; stopped between two chunks when the links close.
 *
 * <h2>Concurrency</h2>
 * {@link #current} is guarded by {@code this}; {@link #live} is written only by the adoption
 * thread (read by any); the database cursors are the durable truth. At most one run is queued or
 * running: a call during a run gets that run's future.
 */
final class AdoptionRunner {
  private static final Logger LOG = Logger.getLogger(AdoptionRunner.class);
  /** Progress lines of a long adoption: at most one per this many ms (plus one per entity type at start and end). */
  private static final long PROGRESS_EVERY_MS = 10_000;

  private final NodeRuntime node;
  private final Adoption store;
  private final int chunkSize;
  private final ExecutorService thread;
  private final Map<String, AdoptionStatus> live = new ConcurrentHashMap<>();
  private CompletableFuture<List<AdoptionStatus>> current;
  private volatile boolean stopping;

  AdoptionRunner(NodeRuntime node, Adoption store, int chunkSize) {
    this.node = node;
    this.store = store;
    this.chunkSize = chunkSize;
    this.thread = Executors.newSingleThreadExecutor(task -> {
      Thread t = new Thread(task, "entanglement-" + node.config.nodeName() + "-adoption");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * At the start of the links: resumes what a stop interrupted, and with {@code onStart} adopts
   * every type (the finished ones from their first row again).
   */
  void atStart(boolean onStart) {
    List<EntangledType> types = new ArrayList<>();
    Map<String, Adoption.Cursor> cursors = store.cursors();
    for (EntangledType type : sorted(node.model.types())) {
      Adoption.Cursor cursor = cursors.get(type.name());
      if (onStart || (cursor != null && !cursor.done())) {
        types.add(type);
      }
    }
    if (!types.isEmpty()) {
      LOG.infof("Entanglement node '%s' adopts the existing rows of %s (%s)", node.config.nodeName(),
          types.stream().map(EntangledType::name).toList(), onStart ? "entanglement.adopt.on_start" : "resumed");
      adopt(types);
    }
  }

  /** Adopts the types' rows (resuming an unfinished adoption of a type); the run's future. */
  synchronized CompletableFuture<List<AdoptionStatus>> adopt(List<EntangledType> types) {
    if (current != null && !current.isDone()) {
      return current; // one run at a time: the caller waits for the one under way
    }
    CompletableFuture<List<AdoptionStatus>> run = new CompletableFuture<>();
    current = run;
    List<EntangledType> ordered = sorted(types);
    try {
      thread.execute(() -> {
        try {
          run.complete(run(ordered));
        } catch (RuntimeException | Error e) {
          run.completeExceptionally(e);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      run.completeExceptionally(new IllegalStateException("Entanglement node '%s' is stopping; no adoption starts"
          .formatted(node.config.nodeName())));
    }
    return run;
  }

  /** Every type's adoption: going on, interrupted, failed or done (types never adopted are absent). */
  List<AdoptionStatus> status() {
    Map<String, AdoptionStatus> all = new java.util.TreeMap<>();
    for (Adoption.Cursor cursor : store.cursors().values()) {
      all.put(cursor.entity(), status(cursor, cursor.done() ? State.DONE : State.INTERRUPTED, null));
    }
    all.putAll(live);
    return List.copyOf(all.values());
  }

  /** Stops between two chunks (what is committed stays; the rest resumes at the next start). */
  void stop() {
    stopping = true;
    thread.shutdown();
    try {
      if (!thread.awaitTermination(30, TimeUnit.SECONDS)) {
        LOG.warnf("Entanglement node '%s': the adoption did not stop within 30 s", node.config.nodeName());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private List<AdoptionStatus> run(List<EntangledType> types) {
    List<AdoptionStatus> results = new ArrayList<>();
    Map<String, Adoption.Cursor> cursors = store.cursors();
    for (EntangledType type : types) {
      if (stopping) {
        break;
      }
      AdoptionStatus result = adoptType(type, cursors.get(type.name()));
      results.add(result);
      if (result.state() == State.FAILED) {
        break; // the operator sees why; a later call resumes from the cursor
      }
    }
    return results;
  }

  private AdoptionStatus adoptType(EntangledType type, Adoption.Cursor cursor) {
    String nodeName = node.config.nodeName();
    long now = node.config.wallClock().millis();
    if (cursor == null || cursor.done()) {
      cursor = store.restart(type.name(), now);
      LOG.infof("Entanglement node '%s' starts adopting the existing rows of %s (%d per transaction)", nodeName,
          type.name(), chunkSize);
    } else {
      LOG.infof("Entanglement node '%s' resumes adopting the rows of %s after id %s (%d read, %d announced so far%s)",
          nodeName, type.name(), cursor.afterId(), cursor.scanned(), cursor.announced(),
          cursor.phase() == Adoption.Phase.SWEEPING ? "; looking for rows deleted behind its back" : "");
    }
    live.put(type.name(), status(cursor, State.RUNNING, null));
    long lastLog = System.nanoTime();
    while (!cursor.done()) {
      if (stopping) {
        AdoptionStatus interrupted = status(cursor, State.INTERRUPTED, null);
        live.put(type.name(), interrupted);
        return interrupted;
      }
      List<Long> taken = new ArrayList<>();
      Adoption.Chunk chunk;
      try {
        chunk = store.next(type, cursor, chunkSize, serials(), taken, node.config.wallClock().millis());
      } catch (RuntimeException e) {
        node.localChanges.finished(taken); // rolled back: these serials are never committed
        String why = e.getMessage() == null ? e.toString() : e.getMessage();
        LOG.errorf(e, "Entanglement node '%s' stopped adopting %s after id %s: %s. Call adopt again to resume there",
            nodeName, type.name(), cursor.afterId(), why);
        AdoptionStatus failed = status(cursor, State.FAILED, why);
        live.put(type.name(), failed);
        return failed;
      }
      try {
        node.localChanges.publish(chunk.changes());
      } catch (RuntimeException e) {
        LOG.errorf(e, "Entanglement node '%s' could not offer %d adopted rows to its peers; they read them from the "
            + "database after a backoff", nodeName, chunk.changes().size());
        node.localChanges.notPublished(taken.stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE), e);
      } finally {
        node.localChanges.finished(taken);
      }
      node.metrics.adopted(type.name(), chunk.announced(), chunk.skipped());
      cursor = chunk.cursor();
      live.put(type.name(), status(cursor, cursor.done() ? State.DONE : State.RUNNING, null));
      if (!cursor.done() && System.nanoTime() - lastLog > TimeUnit.MILLISECONDS.toNanos(PROGRESS_EVERY_MS)) {
        lastLog = System.nanoTime();
        LOG.infof("Entanglement node '%s' adopting %s: %d rows read, %d announced, %d skipped", nodeName, type.name(),
            cursor.scanned(), cursor.announced(), cursor.skipped());
      }
    }
    LOG.infof("Entanglement node '%s' adopted the existing rows of %s: %d read, %d announced, %d skipped (known, or "
        + "another node's), %d deleted behind its back announced as deleted", nodeName, type.name(), cursor.scanned(),
        cursor.announced(), cursor.skipped(), cursor.removed());
    return live.get(type.name());
  }

  private Adoption.Serials serials() {
    return new Adoption.Serials() {
      @Override
      public long next() {
        return node.localChanges.nextSerial();
      }

      @Override
      public long ownEpoch(String key) {
        return node.ownership.ownEpoch(key);
      }
    };
  }

  private static AdoptionStatus status(Adoption.Cursor cursor, State state, String error) {
    return new AdoptionStatus(cursor.entity(), state, cursor.afterId(), cursor.scanned(), cursor.announced(),
        cursor.skipped(), cursor.removed(), error);
  }

  private static List<EntangledType> sorted(java.util.Collection<EntangledType> types) {
    return types.stream().sorted(Comparator.comparing(EntangledType::name)).toList();
  }
}
