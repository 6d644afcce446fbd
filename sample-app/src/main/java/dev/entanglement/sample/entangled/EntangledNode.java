package dev.entanglement.sample.entangled;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementSettings;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.Persistence;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * One node of {@code entangled}: keeps the listed files aligned with the other node.
 *
 * <p>Each node stores its own copy of every file as a {@link FileCopy} it owns (md5, content,
 * modification time, and what the change was made on top of); the plugin replicates the rows, so
 * each node sees the other's. A node writes its file from the other's copy only when that copy is
 * a change made in reach on top of what this node has (or this node has no file), or when the
 * other node forces alignment. Everything else that differs is reported: split-brain when both
 * sides changed independently (at start, or while apart), misaligned otherwise.
 *
 * <h2>Concurrency</h2>
 * One owner: every decision about files and rows runs on {@code worker}, a single thread. The
 * watch-service thread and the HTTP threads only hand work to it.
 */
public final class EntangledNode implements AutoCloseable {
  /** How one node is set up. */
  public record Options(String node, String listen, String peer, Path dataDir, Path root, List<Path> files,
      int httpPort, Duration scanInterval, Map<String, String> transport) {}

  private final Options options;
  private final List<Path> files;
  /** The name both nodes know a file by: its path relative to the root. */
  private final Map<Path, String> keys = new HashMap<>();
  private final EntityManagerFactory factory;
  private final Entanglement entanglement;
  private final ScheduledExecutorService worker;
  private final WatchService watcher;
  private final Thread watching;
  private final HttpApi http;
  private final Consumer<String> log;
  // worker thread only
  private final Map<Path, String> cached = new HashMap<>();
  private final Map<Path, Long> seenGeneration = new HashMap<>();
  private final Set<Path> splitBrain = new HashSet<>();
  private volatile boolean closed;

  /**
   * Starts a node. Fails with {@link IllegalArgumentException} naming the entry when a listed
   * path is a directory or its directory does not exist.
   */
  public static EntangledNode start(Options options, Consumer<String> log) throws IOException {
    List<Path> files = new ArrayList<>();
    Path root = options.root().toAbsolutePath().normalize();
    for (Path file : options.files()) {
      Path absolute = file.toAbsolutePath().normalize();
      if (!absolute.startsWith(root)) {
        throw new IllegalArgumentException("'%s' is not under the root directory '%s'; expected files under it"
            .formatted(file, root));
      }
      if (Files.isDirectory(absolute)) {
        throw new IllegalArgumentException(("'%s' is a directory; entangled keeps single files aligned, never "
            + "directories: list the files in it one by one").formatted(file));
      }
      if (absolute.getParent() == null || !Files.isDirectory(absolute.getParent())) {
        throw new IllegalArgumentException("the directory of '%s' does not exist; expected an existing directory"
            .formatted(file));
      }
      if (!files.contains(absolute)) {
        files.add(absolute);
      }
    }
    return new EntangledNode(options, files, log);
  }

  private EntangledNode(Options options, List<Path> files, Consumer<String> log) throws IOException {
    this.options = options;
    this.files = List.copyOf(files);
    this.log = log;
    Path root = options.root().toAbsolutePath().normalize();
    for (Path file : this.files) {
      keys.put(file, root.relativize(file).toString().replace('\\', '/'));
    }
    Files.createDirectories(options.dataDir());
    Map<String, Object> settings = new HashMap<>(options.transport());
    settings.put("jakarta.persistence.jdbc.url", "jdbc:h2:file:" + options.dataDir().toAbsolutePath().resolve("entangled"));
    settings.put(EntanglementSettings.NODE_NAME, options.node());
    settings.put(EntanglementSettings.LISTEN, options.listen());
    if (options.peer() != null) {
      settings.put(EntanglementSettings.PEERS, options.peer());
    }
    this.factory = Persistence.createEntityManagerFactory("entangled", settings);
    this.entanglement = Entanglement.of(factory);
    this.worker = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "entangled-" + options.node()));
    this.watcher = FileSystems.getDefault().newWatchService();
    for (Path directory : this.files.stream().map(Path::getParent).distinct().toList()) {
      directory.register(watcher, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
          StandardWatchEventKinds.ENTRY_DELETE);
    }
    onWorker(() -> {
      bootstrap();
      return null;
    });
    this.watching = new Thread(this::watch, "entangled-" + options.node() + "-watch");
    watching.setDaemon(true);
    watching.start();
    long scan = options.scanInterval().toMillis();
    worker.scheduleWithFixedDelay(() -> guarded(this::scanAll), scan, scan, TimeUnit.MILLISECONDS);
    worker.scheduleWithFixedDelay(() -> guarded(this::reconcile), 100, 100, TimeUnit.MILLISECONDS);
    this.http = new HttpApi(this, options.httpPort());
  }

  public String node() {
    return options.node();
  }

  public Entanglement entanglement() {
    return entanglement;
  }

  /** The port the HTTP API listens on. */
  public int httpPort() {
    return http.port();
  }

  // ---- files -----------------------------------------------------------------------------------

  private record Snapshot(boolean present, String md5, byte[] content, long modified) {}

  private static Snapshot read(Path file) {
    try {
      byte[] content = Files.readAllBytes(file);
      return new Snapshot(true, md5(content), content, Files.getLastModifiedTime(file).toMillis());
    } catch (IOException missing) {
      return new Snapshot(false, "", new byte[0], 0);
    }
  }

  static String md5(byte[] content) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Replaces a file atomically: a temporary file in the same directory, mode 644, renamed over it. */
  private static void replace(Path file, byte[] content) throws IOException {
    Path temporary = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".entangled");
    try {
      Files.write(temporary, content);
      try {
        Files.setPosixFilePermissions(temporary, PosixFilePermissions.fromString("rw-r--r--"));
      } catch (UnsupportedOperationException notPosix) {
        // the platform's default permissions
      }
      try {
        Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temporary);
    }
  }

  // ---- worker: bootstrap, local changes, the other node's copies ---------------------------------

  private void bootstrap() {
    for (Path file : files) {
      Snapshot now = read(file);
      if (!now.present()) {
        log.accept("warning: %s does not exist; it is created when the other node requires alignment".formatted(file));
      }
      cached.put(file, now.md5());
      inTransaction(em -> {
        FileCopy own = em.find(FileCopy.class, ownId(file));
        if (own == null) {
          own = new FileCopy(options.node(), keys.get(file));
          em.persist(own);
        } else if (own.getMd5().equals(now.md5()) && own.isPresent() == now.present()) {
          return null;
        }
        // a state this node did not see change live: it never overwrites the other node by itself
        own.record(now.present(), now.md5(), now.content(), now.modified(), "", true);
        return null;
      });
    }
    log.accept("%s watches %d files".formatted(options.node(), files.size()));
  }

  private void watch() {
    while (!closed) {
      WatchKey key;
      try {
        key = watcher.take();
      } catch (InterruptedException | ClosedWatchServiceException e) {
        return;
      }
      Path directory = (Path) key.watchable();
      for (var event : key.pollEvents()) {
        if (event.context() instanceof Path name) {
          Path file = directory.resolve(name);
          if (files.contains(file)) {
            worker.execute(() -> guarded(() -> checkFile(file)));
          }
        } else {
          worker.execute(() -> guarded(this::scanAll)); // overflow: look at everything
        }
      }
      key.reset();
    }
  }

  private void scanAll() {
    files.forEach(this::checkFile);
  }

  /** A file whose md5 differs from the cached one changed here: record it for the other node. */
  private void checkFile(Path file) {
    Snapshot now = read(file);
    if (now.md5().equals(cached.get(file))) {
      return;
    }
    cached.put(file, now.md5());
    boolean inReach = !entanglement.connectedPeers().isEmpty();
    FileCopy peer = peerCopy(file);
    inTransaction(em -> {
      FileCopy own = em.find(FileCopy.class, ownId(file));
      own.record(now.present(), now.md5(), now.content(), now.modified(), peer == null ? "" : peer.getMd5(), !inReach);
      return null;
    });
    if (!inReach && peer != null && !peer.getMd5().equals(now.md5())) {
      splitBrain.add(file);
    }
    log.accept("%s: %s changed here (md5 %s)%s".formatted(options.node(), file, now.md5(),
        inReach ? "" : "; the other node is out of reach, so it will not be overwritten by this change"));
  }

  /** Looks at the other node's copies and follows the ones it should. */
  private void reconcile() {
    for (Path file : files) {
      FileCopy peer = peerCopy(file);
      if (peer == null) {
        continue;
      }
      FileCopy own = ownCopy(file);
      boolean forced = peer.getForce() > own.getAppliedForce();
      Long seen = seenGeneration.get(file);
      if (!forced && seen != null && seen == peer.getGeneration()) {
        continue;
      }
      seenGeneration.put(file, peer.getGeneration());
      if (peer.getMd5().equals(own.getMd5()) && peer.isPresent() == own.isPresent()) {
        splitBrain.remove(file);
        if (forced) {
          inTransaction(em -> {
            em.find(FileCopy.class, own.getId()).appliedForce(peer.getForce());
            return null;
          });
        }
        continue;
      }
      boolean follow = forced
          || peer.isPresent() && !peer.isApart() && (!own.isPresent() || own.getMd5().equals(peer.getBase()));
      if (follow && peer.isPresent()) {
        adopt(file, peer, forced);
      } else if (own.isPresent() && peer.isPresent()) {
        if (splitBrain.add(file)) {
          log.accept("%s: %s is in split-brain: both nodes changed it (%s here, %s at %s)".formatted(
              options.node(), file, own.getMd5(), peer.getMd5(), peer.getNode()));
        }
      }
    }
  }

  private void adopt(Path file, FileCopy peer, boolean forced) {
    try {
      cached.put(file, peer.getMd5()); // before the rename, so the watcher sees nothing new
      replace(file, peer.getContent());
    } catch (IOException e) {
      cached.remove(file);
      log.accept("%s: could not write %s: %s".formatted(options.node(), file, e));
      return;
    }
    Snapshot now = read(file);
    inTransaction(em -> {
      FileCopy own = em.find(FileCopy.class, ownId(file));
      own.record(true, now.md5(), now.content(), now.modified(), peer.getMd5(), false);
      if (forced) {
        own.appliedForce(peer.getForce());
      }
      return null;
    });
    splitBrain.remove(file);
    log.accept("%s: %s replaced with %s's version (md5 %s)%s".formatted(options.node(), file, peer.getNode(),
        peer.getMd5(), forced ? ", forced" : ""));
  }

  /** Makes the other node take this node's version of the files (all, or one). */
  List<String> force(String only) {
    return onWorker(() -> {
      List<String> forced = new ArrayList<>();
      for (Path file : files) {
        if (only != null && !file.toString().equals(only) && !keys.get(file).equals(only)) {
          continue;
        }
        checkFile(file);
        inTransaction(em -> {
          FileCopy own = em.find(FileCopy.class, ownId(file));
          Snapshot now = read(file);
          own.record(now.present(), now.md5(), now.content(), now.modified(), own.getBase(), false);
          own.forced(Math.max(own.getForce() + 1, System.currentTimeMillis()));
          return null;
        });
        splitBrain.remove(file);
        forced.add(keys.get(file));
      }
      if (only != null && forced.isEmpty()) {
        throw new IllegalArgumentException("'%s' is not one of the files of node '%s'".formatted(only, options.node()));
      }
      return forced;
    });
  }

  /** Per file: both copies and whether they are aligned, misaligned or in split-brain. */
  Map<String, Object> state() {
    return onWorker(() -> {
      Map<String, Object> state = new LinkedHashMap<>();
      state.put("node", options.node());
      List<String> connected = List.copyOf(entanglement.connectedPeers());
      state.put("peerConnected", !connected.isEmpty());
      List<Map<String, Object>> list = new ArrayList<>();
      String peerName = connected.isEmpty() ? null : connected.get(0);
      for (Path file : files) {
        FileCopy own = ownCopy(file);
        FileCopy peer = peerCopy(file);
        if (peer != null) {
          peerName = peer.getNode();
        }
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("path", file.toString());
        entry.put("key", keys.get(file));
        entry.put("status", status(file, own, peer));
        entry.put("local", copy(options.node(), own));
        entry.put("peer", copy(peer == null ? peerName : peer.getNode(), peer));
        list.add(entry);
      }
      state.put("peer", peerName);
      state.put("files", list);
      return state;
    });
  }

  private String status(Path file, FileCopy own, FileCopy peer) {
    if (peer != null && peer.getMd5().equals(own.getMd5()) && peer.isPresent() == own.isPresent()) {
      return "aligned";
    }
    return splitBrain.contains(file) ? "split-brain" : "misaligned";
  }

  private static Map<String, Object> copy(String node, FileCopy copy) {
    Map<String, Object> view = new LinkedHashMap<>();
    view.put("node", node);
    view.put("known", copy != null);
    view.put("present", copy != null && copy.isPresent());
    view.put("md5", copy == null || !copy.isPresent() ? null : copy.getMd5());
    view.put("modified", copy == null || !copy.isPresent() ? null : Instant.ofEpochMilli(copy.getModified()).toString());
    return view;
  }

  // ---- rows ------------------------------------------------------------------------------------

  private String ownId(Path file) {
    return options.node() + "|" + keys.get(file);
  }

  private FileCopy ownCopy(Path file) {
    return read(em -> em.find(FileCopy.class, ownId(file)));
  }

  private FileCopy peerCopy(Path file) {
    List<FileCopy> copies = read(em -> em.createQuery("from FileCopy where path = :path and node <> :self", FileCopy.class)
        .setParameter("path", keys.get(file)).setParameter("self", options.node()).getResultList());
    return copies.isEmpty() ? null : copies.get(0);
  }

  private <T> T read(Function<EntityManager, T> work) {
    EntityManager em = factory.createEntityManager();
    try {
      return work.apply(em);
    } finally {
      em.close();
    }
  }

  private void inTransaction(Function<EntityManager, Object> work) {
    EntityManager em = factory.createEntityManager();
    try {
      em.getTransaction().begin();
      work.apply(em);
      em.getTransaction().commit();
    } finally {
      if (em.getTransaction().isActive()) {
        em.getTransaction().rollback();
      }
      em.close();
    }
  }

  private <T> T onWorker(Callable<T> task) {
    try {
      return worker.submit(task).get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IllegalStateException(e.getCause());
    } catch (Exception e) {
      throw new IllegalStateException("node '%s' did not answer: %s".formatted(options.node(), e), e);
    }
  }

  private void guarded(Runnable work) {
    if (closed) {
      return;
    }
    try {
      work.run();
    } catch (RuntimeException e) {
      if (!closed) {
        log.accept("%s: %s".formatted(options.node(), e));
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    http.close();
    try {
      watcher.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    worker.shutdown();
    try {
      worker.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    factory.close();
  }
}
