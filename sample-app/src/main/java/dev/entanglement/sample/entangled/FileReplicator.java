package dev.entanglement.sample.entangled;

import dev.entanglement.hibernate.ChangeListener;
import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.sample.entangled.Alignment.Action;
import dev.entanglement.sample.entangled.Alignment.Status;
import dev.entanglement.sample.entangled.Alignment.Verdict;
import dev.entanglement.sample.entangled.FileVersion.Cause;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.jboss.logging.Logger;

/**
 * Keeps one node's listed files and its own {@link FileVersion} rows in step, and writes the
 * peer's content to a file when the peer's version supersedes this node's ({@link Alignment}).
 *
 * <ul>
 *   <li>A change of a file (seen by the {@link WatchService}, or by the periodic checksum scan
 *       that backs it up) whose MD5 differs from this node's row becomes a new version of the
 *       row; the plugin sends it to the peer.</li>
 *   <li>A reconcile judges each file against the peer's row as replicated into this node's
 *       database; a superseding version made while the nodes were connected is written to the file
 *       atomically (a temporary file in the same directory, then an atomic rename). It runs when
 *       the plugin's change listener hears that a peer's row committed here, after this node's
 *       own row changed, and at each scan while a peer's version could not be written; requests
 *       coalesce into one queued run ({@code reconcileQueued}).</li>
 * </ul>
 *
 * <p>Concurrency: one thread, {@code entangled-sync-<node>}, owns the files on disk, this node's
 * rows and their in-memory copy ({@link #own}): start, checks, scans, reconciles, forced alignment and
 * state snapshots all run on it, so a check never races a write. The watcher thread only queues
 * checks and the plugin's listener thread only queues reconciles (never waits on this thread);
 * HTTP threads submit work with {@link #call} and wait for its result. Writing a row is
 * an ordinary local commit: the plugin sends it without blocking this thread on the network.
 */
final class FileReplicator implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(FileReplicator.class);
  /** Mode of a file this node creates because the peer required it. */
  static final Set<PosixFilePermission> NEW_FILE_PERMISSIONS = PosixFilePermissions.fromString("rw-r--r--");
  /** Name ending of the temporary files of atomic replacements (".NAME.<random>" + this). */
  static final String TEMP_SUFFIX = ".entangled-tmp";
  /** Editors write in several steps: a burst of events makes one check this long after its first event. */
  private static final long DEBOUNCE_MILLIS = 50;
  private static final long CALL_TIMEOUT_SECONDS = 30;

  private final String nodeName;
  private final EntityManagerFactory factory;
  private final Entanglement entanglement;
  private final Map<String, Path> files;
  private final Map<Path, String> namesByFile = new HashMap<>();
  private final Duration scanInterval;
  /** Whether a reconcile is queued on the sync thread and not started yet (at most one is). */
  private final AtomicBoolean reconcileQueued = new AtomicBoolean();
  private final ChangeListener<FileVersion> peerRows = event -> requestReconcile();
  private final ScheduledExecutorService sync;
  private final Set<String> pendingChecks = ConcurrentHashMap.newKeySet();
  private WatchService watchService;
  private Thread watcher;

  // owned by the sync thread
  private final Map<String, VersionRow> own = new HashMap<>();
  private final Map<String, String> problems = new HashMap<>(); // reading the file, cleared by a good read
  private final Map<String, String> writeProblems = new HashMap<>(); // writing the peer's version
  private final Map<String, String> lastLoggedProblem = new HashMap<>();
  private final Map<String, Status> reported = new HashMap<>();
  private final Set<String> foreignNodesWarned = new TreeSet<>();

  FileReplicator(String nodeName, EntityManagerFactory factory, Map<String, Path> files, Duration scanInterval) {
    this.nodeName = nodeName;
    this.factory = factory;
    this.entanglement = Entanglement.of(factory);
    this.files = Collections.unmodifiableMap(new LinkedHashMap<>(files)); // in the order listed
    files.forEach((name, file) -> namesByFile.put(file, name));
    this.scanInterval = scanInterval;
    this.sync = Executors.newSingleThreadScheduledExecutor(runnable -> {
      Thread thread = new Thread(runnable, "entangled-sync-" + nodeName);
      thread.setDaemon(true);
      return thread;
    });
  }

  /**
   * Watches the files' directories, registers every file (its MD5 and a first version, or a new
   * version if it changed while the node was down), then starts the scan and listens for the
   * peer's rows.
   */
  void start() throws IOException {
    watchService = FileSystems.getDefault().newWatchService();
    // before registering, so that a change made meanwhile is queued, not missed
    for (Path directory : new LinkedHashSet<>(files.values().stream().map(Path::getParent).toList())) {
      directory.register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
          StandardWatchEventKinds.ENTRY_DELETE);
    }
    call(() -> {
      bootstrap();
      return null;
    });
    watcher = new Thread(this::watch, "entangled-watch-" + nodeName);
    watcher.setDaemon(true);
    watcher.start();
    long scan = scanInterval.toMillis();
    sync.scheduleWithFixedDelay(guarded("scan", this::scan), scan, scan, TimeUnit.MILLISECONDS);
    entanglement.addChangeListener(FileVersion.class, peerRows);
    requestReconcile(); // what was received while this node was down
  }

  /**
   * Queues one reconcile on the sync thread unless one is queued already (any thread; never
   * waits): a burst of received rows makes one run, which reads them all.
   */
  private void requestReconcile() {
    if (reconcileQueued.compareAndSet(false, true)) {
      try {
        sync.execute(guarded("reconcile", () -> {
          reconcileQueued.set(false); // first: a row committed during the run queues another one
          reconcile();
        }));
      } catch (RejectedExecutionException e) {
        reconcileQueued.set(false); // closing
      }
    }
  }

  /** Runs {@code work} on the sync thread and returns its result; ApiExceptions pass through. */
  <T> T call(Callable<T> work) {
    try {
      return sync.submit(work).get(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IllegalStateException(e.getCause());
    } catch (TimeoutException e) {
      throw new ApiException(503, "node '" + nodeName + "' is busy: no answer within " + CALL_TIMEOUT_SECONDS + " s");
    } catch (RejectedExecutionException e) {
      throw new ApiException(503, "node '" + nodeName + "' is shutting down");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiException(503, "interrupted");
    }
  }

  @Override
  public void close() {
    entanglement.removeChangeListener(peerRows);
    try {
      if (watchService != null) {
        watchService.close(); // ends the watcher's take()
      }
    } catch (IOException e) {
      LOG.debugf(e, "closing the watch service of node '%s'", nodeName);
    }
    // no interrupt: a task may be inside a database transaction, which should end normally
    sync.shutdown();
    try {
      if (watcher != null) {
        watcher.join(TimeUnit.SECONDS.toMillis(10));
      }
      if (!sync.awaitTermination(10, TimeUnit.SECONDS)) {
        sync.shutdownNow();
      }
    } catch (InterruptedException e) {
      sync.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  // ---- on the sync thread ----

  private void bootstrap() {
    for (Map.Entry<String, Path> entry : files.entrySet()) {
      String name = entry.getKey();
      Path file = entry.getValue();
      removeLeftoverTemporaryFiles(file);
      FileVersion stored = inTransaction(em -> em.find(FileVersion.class, FileVersion.id(nodeName, name)));
      if (stored == null) {
        register(name, file);
      } else {
        own.put(name, VersionRow.of(stored));
        check(name, true);
      }
      VersionRow registered = own.get(name);
      if (registered == null) {
        LOG.warnf("%s (%s) cannot be read on node '%s' (%s): it is neither sent nor written over until it can be read",
            name, file, nodeName, problems.get(name));
      } else if (!registered.present()) {
        LOG.warnf("%s (%s) does not exist on node '%s': it is created, with mode 644, when the peer changes it"
            + " or forces alignment", name, file, nodeName);
      }
    }
    LOG.infof("node '%s' keeps %d file(s) aligned with its peer: %s", nodeName, files.size(), files.keySet());
  }

  /** The first version of a file this node has never listed before. */
  private void register(String name, Path file) {
    DiskFile disk;
    try {
      disk = DiskFile.read(file);
      problems.remove(name);
    } catch (IOException e) {
      // not registered as missing: that would offer to write the peer's version over it, and make an
      // identical file look independent (split-brain) once it can be read; it is registered then
      problem(name, e.getMessage());
      return;
    }
    DiskFile found = disk;
    FileVersion version = new FileVersion(nodeName, name);
    version.setFile(found.content(), found.md5(), found.modified());
    version.setVersion(1, 0, false, Cause.REGISTERED, now());
    inTransaction(em -> {
      em.persist(version);
      return null;
    });
    own.put(name, VersionRow.of(version));
    LOG.debugf("registered %s on node '%s' (md5 %s)", name, nodeName, found.md5());
  }

  /**
   * Compares a file with this node's row and records what changed. {@code atStart}: a change
   * found when the node starts happened while it was down, so apart from its peer.
   */
  private void check(String name, boolean atStart) {
    Path file = files.get(name);
    VersionRow current = own.get(name);
    if (current == null) {
      register(name, file); // could not be read so far
      return;
    }
    DiskFile disk;
    try {
      disk = DiskFile.read(file);
      problems.remove(name);
    } catch (IOException e) {
      problem(name, e.getMessage());
      return;
    }
    if (!disk.present()) {
      if (current.present()) {
        update(name, version -> {
          version.setFile(null, null, null);
          version.setCause(Cause.DELETED, now());
        });
        LOG.warnf("%s was deleted on node '%s'; deletions are not replicated, so the peer keeps its copy", name,
            nodeName);
      }
      return;
    }
    if (current.present() && disk.md5().equals(current.md5())) {
      if (!Objects.equals(disk.modified(), current.modified())) {
        update(name, version -> version.setModified(disk.modified())); // touched: the state shows the new time
      }
      return;
    }
    boolean apart = atStart || !peerConnected();
    VersionRow peer = peerRows().get(name);
    long basedOn = Math.max(current.basedOn(), peer == null ? 0 : peer.generation());
    long generation = current.generation() + 1;
    update(name, version -> {
      version.setFile(disk.content(), disk.md5(), disk.modified());
      version.setVersion(generation, basedOn, apart, Cause.CHANGED, now());
    });
    if (apart) {
      LOG.warnf("%s changed on node '%s' (generation %d) while %s: it is split-brain until it changes again"
          + " while both nodes are connected, or alignment is forced", name, nodeName, generation,
          atStart ? "the node was down" : "the peer was out of reach");
    } else {
      LOG.infof("%s changed on node '%s' (generation %d): sent to the peer", name, nodeName, generation);
    }
  }

  private void scan() {
    for (String name : files.keySet()) {
      check(name, false);
    }
    if (!writeProblems.isEmpty()) {
      requestReconcile(); // try again to write what could not be written (a permission fixed)
    }
  }

  /** Judges every file against the peer's version, and writes superseding ones. */
  private void reconcile() {
    Map<String, VersionRow> peers = peerRows();
    for (String name : files.keySet()) {
      VersionRow peer = peers.get(name);
      if (own.get(name) == null) {
        continue; // unreadable here (problems): nothing to judge until it is registered
      }
      Verdict verdict = Alignment.judge(own.get(name), peer);
      if (verdict.action() == Action.ADOPT_PEER) {
        verdict = adopt(name, peer.node());
      } else {
        writeProblems.remove(name);
      }
      if (!problems.containsKey(name)) {
        lastLoggedProblem.remove(name + "|read"); // solved: logged again if it comes back
      }
      if (!writeProblems.containsKey(name)) {
        lastLoggedProblem.remove(name + "|write");
      }
      if (verdict.status() == Status.ALIGNED && peer.generation() > own.get(name).basedOn()) {
        // same content: this node's version now includes the peer's, so that the next change on
        // either side supersedes the other's (and a deletion is told apart from a conflict)
        long seen = peer.generation();
        update(name, version -> version.setVersion(version.getGeneration(), seen, version.isChangedApart(),
            version.getCause(), version.getRecorded()));
      }
      report(name, verdict);
    }
  }

  /** Writes the peer's version of a file here, if it still supersedes this node's. */
  private Verdict adopt(String name, String peerNode) {
    check(name, false); // a change here not seen yet must not be overwritten: it makes the versions concurrent
    FileVersion source = inTransaction(em -> em.find(FileVersion.class, FileVersion.id(peerNode, name)));
    VersionRow peer = VersionRow.of(source);
    Verdict verdict = Alignment.judge(own.get(name), peer);
    if (verdict.action() != Action.ADOPT_PEER) {
      return verdict;
    }
    byte[] content = source.getContent();
    if (content == null || !md5(content).equals(peer.md5())) {
      writeProblem(name, "node '" + peerNode + "''s version (generation " + peer.generation()
          + ") does not carry content matching its MD5: not written");
      return verdict;
    }
    Path file = files.get(name);
    Instant modified;
    try {
      modified = writeAtomically(file, content);
    } catch (IOException e) {
      // the reason only: the temporary file's random name would make every attempt's message new
      String reason = e instanceof FileSystemException fileSystem && fileSystem.getReason() != null
          ? fileSystem.getReason() : e.toString();
      writeProblem(name, "cannot write node '" + peerNode + "''s version to " + file + ": " + reason);
      return verdict;
    }
    writeProblems.remove(name);
    long generation = own.get(name).generation();
    update(name, version -> {
      version.setFile(content, peer.md5(), modified);
      version.setVersion(generation, peer.generation(), false, Cause.ADOPTED, now());
    });
    LOG.infof("%s: wrote node '%s''s version (generation %d) to %s", name, peerNode, peer.generation(), file);
    return Alignment.judge(own.get(name), peer);
  }

  /** {@code POST /api/1/force}: new versions of this node's files that supersede the peer's. */
  ForceReport force(String requested) {
    Set<String> connected = entanglement.connectedPeers();
    if (connected.isEmpty()) {
      throw new ApiException(409, "node '" + nodeName + "' cannot force alignment: its peer is not connected"
          + " (forcing needs both nodes in reach)");
    }
    List<String> names = requested == null ? List.copyOf(files.keySet()) : List.of(resolve(requested));
    Map<String, VersionRow> peers = peerRows();
    List<String> forced = new ArrayList<>();
    List<String> alreadyAligned = new ArrayList<>();
    List<ForceReport.Skipped> skipped = new ArrayList<>();
    for (String name : names) {
      check(name, false);
      VersionRow current = own.get(name);
      VersionRow peer = peers.get(name);
      if (problems.containsKey(name)) {
        skipped.add(new ForceReport.Skipped(name, problems.get(name)));
      } else if (!current.present()) {
        skipped.add(new ForceReport.Skipped(name, "missing on node '" + nodeName
            + "': deletions are not replicated, so there is nothing to align the peer to"));
      } else if (peer == null) {
        skipped.add(new ForceReport.Skipped(name, "no version of it has been received from the peer (does the"
            + " peer list this file?)"));
      } else if (current.sameContent(peer)) {
        alreadyAligned.add(name);
      } else {
        update(name, version -> version.setVersion(current.generation() + 1,
            Math.max(current.basedOn(), peer.generation()), false, Cause.FORCED, now()));
        forced.add(name);
        LOG.infof("%s: node '%s' forces its version (generation %d) onto node '%s'", name, nodeName,
            current.generation() + 1, peer.node());
      }
    }
    return new ForceReport(nodeName, connected.iterator().next(), forced, alreadyAligned, skipped);
  }

  /** {@code GET /api/1/state}. */
  StateReport state() {
    Map<String, VersionRow> peers = peerRows();
    Set<String> connected = entanglement.connectedPeers();
    String peerName = connected.isEmpty()
        ? peers.values().stream().map(VersionRow::node).findFirst().orElse(null)
        : connected.iterator().next();
    List<StateReport.FileReport> reports = new ArrayList<>();
    for (Map.Entry<String, Path> entry : files.entrySet()) {
      String name = entry.getKey();
      VersionRow local = own.get(name);
      VersionRow remote = peers.get(name);
      if (local == null) {
        reports.add(new StateReport.FileReport(name, entry.getValue().toString(), "unreadable",
            "it cannot be read on this node, so it is neither sent nor written over: " + problems.get(name),
            problems.get(name), null, StateReport.VersionReport.of(remote)));
        continue;
      }
      Verdict verdict = Alignment.judge(local, remote);
      reports.add(new StateReport.FileReport(name, entry.getValue().toString(), verdict.status().label(),
          verdict.detail(), writeProblems.getOrDefault(name, problems.get(name)), StateReport.VersionReport.of(local),
          StateReport.VersionReport.of(remote)));
    }
    return new StateReport(nodeName, peerName, !connected.isEmpty(), reports);
  }

  /** A listed file by its name in the cluster, or by its path on this node. */
  private String resolve(String requested) {
    if (files.containsKey(requested)) {
      return requested;
    }
    String byFile = namesByFile.get(Path.of(requested).toAbsolutePath().normalize());
    if (byFile != null) {
      return byFile;
    }
    throw new ApiException(404, "'" + requested + "' is not a file node '" + nodeName + "' keeps aligned; its files: "
        + files.keySet());
  }

  /** The peer's versions as replicated into this node's database, by file name; without content. */
  private Map<String, VersionRow> peerRows() {
    List<Object[]> rows = inTransaction(em -> em.createQuery("select v.node, v.path, v.present, v.md5, v.size,"
            + " v.modified, v.generation, v.basedOn, v.changedApart, v.cause, v.recorded from FileVersion v"
            + " where v.node <> :me order by v.node", Object[].class)
        .setParameter("me", nodeName)
        .getResultList());
    Set<String> connected = entanglement.connectedPeers();
    Map<String, VersionRow> byName = new HashMap<>();
    for (Object[] row : rows) {
      VersionRow version = new VersionRow((String) row[0], (String) row[1], (Boolean) row[2], (String) row[3],
          (Long) row[4], (Instant) row[5], (Long) row[6], (Long) row[7], (Boolean) row[8], (Cause) row[9],
          (Instant) row[10]);
      VersionRow other = byName.putIfAbsent(version.path(), version);
      if (other != null && !other.node().equals(version.node())) {
        // a cluster of two: a third node's versions are ignored, unless it is the one connected
        if (connected.contains(version.node()) && !connected.contains(other.node())) {
          byName.put(version.path(), version);
        }
        if (foreignNodesWarned.add(version.node() + "|" + other.node())) {
          LOG.warnf("node '%s' holds versions of %s from nodes '%s' and '%s': entangled aligns two nodes;"
              + " the connected one counts", nodeName, version.path(), other.node(), version.node());
        }
      }
    }
    return byName;
  }

  private boolean peerConnected() {
    return !entanglement.connectedPeers().isEmpty();
  }

  /** Changes this node's row of a file in a transaction of its own, and its in-memory copy. */
  private void update(String name, Consumer<FileVersion> change) {
    FileVersion updated = inTransaction(em -> {
      FileVersion version = em.find(FileVersion.class, FileVersion.id(nodeName, name));
      change.accept(version);
      return version;
    });
    own.put(name, VersionRow.of(updated));
    requestReconcile(); // the file's status may have changed
  }

  private <T> T inTransaction(java.util.function.Function<EntityManager, T> work) {
    EntityManager em = factory.createEntityManager();
    try {
      em.getTransaction().begin();
      T result = work.apply(em);
      em.getTransaction().commit();
      return result;
    } finally {
      if (em.getTransaction().isActive()) {
        em.getTransaction().rollback();
      }
      em.close();
    }
  }

  /** Logs a file's status when it changes: split-brain as a warning, the rest as information. */
  private void report(String name, Verdict verdict) {
    Status previous = reported.put(name, verdict.status());
    if (previous == verdict.status()) {
      return;
    }
    if (verdict.status() == Status.SPLIT_BRAIN) {
      LOG.warnf("%s is in split-brain (seen from node '%s'): %s", name, nodeName, verdict.detail());
    } else {
      LOG.infof("%s is %s (seen from node '%s'): %s", name, verdict.status().label(), nodeName, verdict.detail());
    }
  }

  /** Records what went wrong reading a file (shown by the state until a good read). */
  private void problem(String name, String message) {
    problems.put(name, message);
    logProblem(name + "|read", message);
  }

  /** Records what went wrong writing the peer's version (shown until written, or no longer due). */
  private void writeProblem(String name, String message) {
    writeProblems.put(name, message);
    logProblem(name + "|write", message);
  }

  /** Once per distinct problem, so a file that cannot be written does not flood the log at every retry. */
  private void logProblem(String key, String message) {
    if (!message.equals(lastLoggedProblem.put(key, message))) {
      LOG.warnf("%s on node '%s': %s", key.substring(0, key.lastIndexOf('|')), nodeName, message);
    } else {
      LOG.debugf("%s on node '%s', still (logged once): %s", key.substring(0, key.lastIndexOf('|')), nodeName,
          message);
    }
  }

  private void removeLeftoverTemporaryFiles(Path file) {
    String prefix = "." + file.getFileName() + ".";
    try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(file.getParent(),
        candidate -> candidate.getFileName().toString().startsWith(prefix)
            && candidate.getFileName().toString().endsWith(TEMP_SUFFIX))) {
      for (Path leftover : leftovers) {
        Files.deleteIfExists(leftover);
        LOG.infof("removed %s, left over by an interrupted replacement", leftover);
      }
    } catch (IOException e) {
      LOG.debugf(e, "cannot list %s for leftover temporary files", file.getParent());
    }
  }

  /** A runnable for the scheduler that logs failures instead of cancelling its schedule. */
  private Runnable guarded(String what, Runnable task) {
    return () -> {
      try {
        task.run();
      } catch (RuntimeException e) {
        LOG.errorf(e, "node '%s': the %s failed; it runs again at its next turn", nodeName, what);
      }
    };
  }

  // ---- the watcher thread ----

  private void watch() {
    while (true) {
      WatchKey key;
      try {
        key = watchService.take();
      } catch (ClosedWatchServiceException | InterruptedException e) {
        return;
      }
      Path directory = (Path) key.watchable();
      for (WatchEvent<?> event : key.pollEvents()) {
        if (event.kind() == StandardWatchEventKinds.OVERFLOW) {
          files.forEach((name, file) -> {
            if (file.getParent().equals(directory)) {
              scheduleCheck(name);
            }
          });
        } else {
          String name = namesByFile.get(directory.resolve((Path) event.context()));
          if (name != null) {
            scheduleCheck(name);
          }
        }
      }
      if (!key.reset()) {
        LOG.warnf("node '%s' can no longer watch %s; the periodic scan still checks its files", nodeName, directory);
      }
    }
  }

  private void scheduleCheck(String name) {
    if (!pendingChecks.add(name)) {
      return; // a check is already due, and reads the file as it is then
    }
    try {
      sync.schedule(guarded("check of " + name, () -> {
        pendingChecks.remove(name); // first: an event during the check schedules another one
        check(name, false);
      }), DEBOUNCE_MILLIS, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException shuttingDown) {
      pendingChecks.remove(name);
    }
  }

  // ---- files ----

  /**
   * Replaces a file's content atomically: readers see the old content or the new, never a mix.
   * The new content goes to a temporary file in the same directory (same file system), synced,
   * given the old file's mode and owner (644 for a new file), then renamed over the file. A
   * symbolic link is followed, so the link stays a link. Returns the new modification time.
   */
  static Instant writeAtomically(Path file, byte[] content) throws IOException {
    Path target = Files.isSymbolicLink(file) ? file.toRealPath() : file;
    Path directory = target.getParent();
    boolean posix = Files.getFileStore(directory).supportsFileAttributeView(PosixFileAttributeView.class);
    PosixFileAttributes existing = posix && Files.exists(target) ? Files.readAttributes(target, PosixFileAttributes.class) : null;
    Path temporary = Files.createTempFile(directory, "." + target.getFileName() + ".", TEMP_SUFFIX);
    try {
      try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE)) {
        ByteBuffer buffer = ByteBuffer.wrap(content);
        while (buffer.hasRemaining()) {
          channel.write(buffer);
        }
        channel.force(true);
      }
      if (posix) {
        Files.setPosixFilePermissions(temporary, existing == null ? NEW_FILE_PERMISSIONS : existing.permissions());
        if (existing != null) {
          keepOwner(temporary, existing);
        }
      }
      Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(temporary);
    }
    syncDirectory(directory);
    return Files.getLastModifiedTime(target).toInstant().truncatedTo(ChronoUnit.MILLIS);
  }

  private static void keepOwner(Path temporary, PosixFileAttributes existing) {
    try {
      PosixFileAttributeView view = Files.getFileAttributeView(temporary, PosixFileAttributeView.class);
      PosixFileAttributes created = view.readAttributes();
      if (!created.group().equals(existing.group())) {
        view.setGroup(existing.group());
      }
      if (!created.owner().equals(existing.owner())) {
        view.setOwner(existing.owner());
      }
    } catch (IOException e) {
      LOG.debugf(e, "cannot give %s the owner of the file it replaces", temporary);
    }
  }

  /** Makes the rename durable; best effort (not every platform can open a directory). */
  private static void syncDirectory(Path directory) {
    try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException | RuntimeException e) {
      LOG.tracef(e, "cannot sync directory %s", directory);
    }
  }

  /** The time a version is recorded, to the millisecond (as the database keeps it and the state shows it). */
  private static Instant now() {
    return Instant.now().truncatedTo(ChronoUnit.MILLIS);
  }

  static String md5(byte[] content) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has MD5", e);
    }
  }

  /** A file as read from disk. */
  record DiskFile(boolean present, byte[] content, String md5, Instant modified) {
    static final DiskFile ABSENT = new DiskFile(false, null, null, null);

    static DiskFile read(Path file) throws IOException {
      try {
        BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
        if (attributes.isDirectory()) {
          throw new IOException(file + " is a directory now; entangled keeps single files aligned");
        }
        if (attributes.size() > FileVersion.MAX_CONTENT_BYTES) {
          throw new IOException(file + " has " + attributes.size() + " bytes, more than the "
              + FileVersion.MAX_CONTENT_BYTES + " entangled replicates: not sent");
        }
        byte[] content = Files.readAllBytes(file);
        if (content.length > FileVersion.MAX_CONTENT_BYTES) {
          throw new IOException(file + " grew beyond " + FileVersion.MAX_CONTENT_BYTES + " bytes: not sent");
        }
        return new DiskFile(true, content, FileReplicator.md5(content),
            attributes.lastModifiedTime().toInstant().truncatedTo(ChronoUnit.MILLIS));
      } catch (NoSuchFileException e) {
        return ABSENT;
      }
    }
  }
}
