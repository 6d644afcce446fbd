package dev.entanglement.sample;

import dev.entanglement.hibernate.CatchUpReport;
import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.sample.model.Assignment;
import dev.entanglement.sample.model.Board;
import dev.entanglement.sample.model.Task;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.Persistence;
import java.io.PrintStream;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Three nodes in one JVM, each with its own H2 database, replicating a task board over gRPC on
 * loopback TCP: {@code alpha} listens on a free port, {@code bravo} and {@code charlie} dial it.
 *
 * <p>The script creates, updates and deletes tasks on alpha, adds one on bravo (alpha relays it
 * to charlie, which has no link to bravo), sends charlie's change of bravo's task to bravo (its
 * owner) as an update request, and catches charlie up after it was away. After each step it
 * waits until every link has caught up ({@link Entanglement#caughtUp}) and prints what every node
 * holds in its own database, read through its own EntityManager. It exits 0 once the nodes hold
 * the same tasks; {@code --keep-running} then leaves them up until Ctrl-C.
 */
public final class SampleApp {
  static final String USAGE = "usage: SampleApp [--keep-running]";
  private static final String UNIT = "tasks"; // META-INF/persistence.xml
  private static final List<String> COLUMNS =
      List.of("node", "task", "status", "assignee", "due", "board", "version", "owner", "local note");
  // java.util.logging holds loggers weakly: keep the ones configured here, or their levels may go
  private static final List<Logger> CONFIGURED_LOGGERS = new ArrayList<>();

  private final PrintStream out;
  private final Map<String, EntityManagerFactory> nodes = new LinkedHashMap<>(); // guarded by this
  private final List<List<String>> links = new ArrayList<>(); // pairs of connected nodes
  private final String run = UUID.randomUUID().toString().substring(0, 8); // unique database names
  private boolean scriptDone;
  private final List<String> notes = new ArrayList<>(); // the running step's lines, main thread only

  private SampleApp(PrintStream out) {
    this.out = out;
  }

  public static void main(String[] args) {
    quietLogging();
    System.exit(run(args, System.out));
  }

  /**
   * Hibernate and Entanglement log through JBoss Logging; send it to java.util.logging and show
   * warnings and errors only, so that the demo's tables stay readable.
   */
  public static void quietLogging() {
    System.setProperty("org.jboss.logging.provider", "jdk");
    Logger root = Logger.getLogger("");
    root.setLevel(Level.WARNING);
    for (var handler : root.getHandlers()) {
      handler.setLevel(Level.WARNING);
    }
    // Hibernate warns about its built-in connection pool, which is what a demo wants
    Logger hibernate = Logger.getLogger("org.hibernate");
    hibernate.setLevel(Level.SEVERE);
    CONFIGURED_LOGGERS.add(root);
    CONFIGURED_LOGGERS.add(hibernate);
  }

  /** Runs the demo, printing to {@code out}; returns the process exit code. */
  public static int run(String[] args, PrintStream out) {
    boolean keepRunning = false;
    for (String arg : args) {
      switch (arg) {
        case "--keep-running" -> keepRunning = true;
        case "--help", "-h" -> {
          out.println(USAGE);
          return 0;
        }
        default -> {
          out.println("unknown option '" + arg + "'");
          out.println(USAGE);
          return 2;
        }
      }
    }
    SampleApp app = new SampleApp(out);
    boolean interrupted = false;
    try {
      app.script();
      if (keepRunning) {
        app.waitUntilStopped();
      }
      return 0;
    } catch (InterruptedException e) {
      // the way to stop --keep-running when the demo runs inside another program
      interrupted = true;
      out.println(app.scriptDone ? "Stopped." : "Interrupted.");
      return app.scriptDone ? 0 : 1;
    } catch (Exception e) {
      out.println("The demo failed: " + e);
      e.printStackTrace();
      return 1;
    } finally {
      app.close();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void script() throws Exception {
    start("alpha", null);
    String alphaAddress = entanglement("alpha").listenAddress().orElseThrow();
    start("bravo", alphaAddress);
    start("charlie", alphaAddress);
    awaitConnected("bravo", "alpha");
    awaitConnected("charlie", "alpha");
    out.println("Three nodes, each with its own H2 database: alpha listens on " + alphaAddress
        + ", bravo and charlie dial it.");
    out.println("After each step every node reads its own database.");
    out.println();

    // 1. plain JPA on alpha: the plugin captures the commit and sends it to alpha's peers
    Board board = new Board("Launch");
    Task docs = new Task(board, "Write docs");
    docs.setAssignment(new Assignment("ana", LocalDate.of(2026, 12, 1)));
    docs.setLocalNote("alpha only"); // @NotEntangled: stays on alpha
    Task ship = new Task(board, "Ship release");
    ship.setAssignment(new Assignment("ben", LocalDate.of(2026, 12, 15)));
    Task tidy = new Task(board, "Tidy backlog");
    inTransaction("alpha", em -> {
      em.persist(board);
      em.persist(docs);
      em.persist(ship);
      em.persist(tidy);
      return null;
    });
    show("1. alpha creates a board and three tasks");

    inTransaction("alpha", em -> {
      em.find(Task.class, docs.getId()).setStatus(Task.Status.DONE);
      Task task = em.find(Task.class, ship.getId());
      task.setTitle("Ship release 1.0");
      task.setAssignment(new Assignment("cleo", LocalDate.of(2026, 12, 20)));
      return null;
    });
    show("2. alpha finishes 'Write docs', renames 'Ship release' and hands it to cleo");

    inTransaction("alpha", em -> {
      em.remove(em.find(Task.class, tidy.getId()));
      return null;
    });
    show("3. alpha deletes 'Tidy backlog'");

    // 4. bravo creates a task on its copy of alpha's board: bravo owns the task. charlie has no
    //    link to bravo: alpha applies the task and relays it on to charlie.
    Task review = inTransaction("bravo", em -> {
      Task task = new Task(em.find(Board.class, board.getId()), "Review");
      task.setAssignment(new Assignment("dev", LocalDate.of(2026, 12, 10)));
      em.persist(task);
      return task;
    });
    show("4. bravo adds 'Review' to alpha's board (bravo owns it; alpha relays it to charlie)");

    // 5. charlie does not own 'Review': its change travels (via alpha) to bravo, which decides;
    //    the future completes once charlie holds bravo's resulting state
    Task started = entanglement("charlie")
        .update(Task.class, review.getId(), task -> task.setStatus(Task.Status.DOING))
        .get(Demos.WAIT_SECONDS, TimeUnit.SECONDS);
    notes.add(String.format("charlie asked bravo, the owner, to start 'Review': bravo's answer is %s, version %d",
        started.getStatus(), started.getVersion()));
    show("5. charlie's change of bravo's task, decided by bravo");

    // 6. charlie goes away (its database stays); alpha carries on
    stop("charlie");
    inTransaction("alpha", em -> {
      em.find(Task.class, ship.getId()).setStatus(Task.Status.DOING);
      em.persist(new Task(em.find(Board.class, board.getId()), "Plan 1.1"));
      return null;
    });
    show("6. charlie is away; alpha starts 'Ship release 1.0' and adds 'Plan 1.1'");

    // 7. charlie comes back: on connecting, alpha sends what charlie missed, from its database
    start("charlie", alphaAddress);
    awaitConnected("charlie", "alpha");
    show("7. charlie is back and catches up");

    List<List<String>> reference = null;
    for (String node : nodeNames()) {
      List<List<String>> held = rowsOf(node).stream()
          .map(row -> row.subList(1, row.size() - 1)) // without the node and its local note
          .toList();
      if (reference != null && !reference.equals(held)) {
        throw new IllegalStateException("the nodes hold different tasks at the end: see the last table");
      }
      reference = held;
    }
    out.printf("All three nodes hold the same %d tasks.%n", reference.size());
    scriptDone = true;
  }

  /** The settings that make one node out of the shared persistence unit. */
  private Map<String, Object> nodeSettings(String node, String peers) {
    Map<String, Object> settings = new HashMap<>();
    // each node has its own database (in memory; it outlives the factory, so a node can restart)
    settings.put("jakarta.persistence.jdbc.url", "jdbc:h2:mem:" + node + "-" + run + ";DB_CLOSE_DELAY=-1");
    settings.put(EntanglementSettings.NODE_NAME, node);
    settings.put(EntanglementSettings.LISTEN, "127.0.0.1:0"); // any free port: see listenAddress()
    if (peers != null) {
      settings.put(EntanglementSettings.PEERS, peers);
    }
    // loopback: dial again quickly if the first attempt races with the listener
    settings.put(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50");
    settings.put(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "500");
    return settings;
  }

  private void start(String node, String peer) {
    EntityManagerFactory factory = Persistence.createEntityManagerFactory(UNIT, nodeSettings(node, peer));
    synchronized (this) {
      nodes.put(node, factory);
    }
    if (peer != null) {
      links.add(List.of(node, "alpha"));
    }
  }

  /** Closes a node's factory: its streams end, its database stays. */
  private void stop(String node) throws InterruptedException {
    EntityManagerFactory factory;
    synchronized (this) {
      factory = nodes.remove(node);
    }
    factory.close();
    links.removeIf(link -> link.contains(node));
    for (String other : nodeNames()) {
      Demos.awaitUntil(() -> !entanglement(other).connectedPeers().contains(node), other + " to see " + node + " leave");
    }
  }

  private synchronized void close() {
    for (EntityManagerFactory factory : nodes.values()) {
      if (factory.isOpen()) {
        factory.close();
      }
    }
    nodes.clear();
  }

  private synchronized List<String> nodeNames() {
    return List.copyOf(nodes.keySet());
  }

  private synchronized Entanglement entanglement(String node) {
    return Entanglement.of(nodes.get(node));
  }

  private synchronized EntityManagerFactory factory(String node) {
    return nodes.get(node);
  }

  private void awaitConnected(String node, String peer) throws InterruptedException {
    Demos.awaitUntil(() -> entanglement(node).connectedPeers().contains(peer)
        && entanglement(peer).connectedPeers().contains(node), node + " and " + peer + " to connect");
  }


  /**
   * Waits until every link has caught up in both directions: everything each node committed so
   * far has been applied by its peers. Twice, because a node relays what it applies from one
   * peer to its other peers: the first round may ask alpha about bravo before alpha has applied
   * charlie's change; by the second round the relayed change is in alpha's outbox for bravo, and
   * waited for. (Two rounds cover the one relay hop of this star; a longer line of nodes needs
   * one round per hop.)
   */
  private void awaitCaughtUp() throws Exception {
    for (int round = 0; round < 2; round++) {
      for (List<String> link : links) {
        report(entanglement(link.get(0)).caughtUp(link.get(1)).get(Demos.WAIT_SECONDS, TimeUnit.SECONDS));
        report(entanglement(link.get(1)).caughtUp(link.get(0)).get(Demos.WAIT_SECONDS, TimeUnit.SECONDS));
      }
    }
  }

  /** A peer that parked changes holds less than was sent: say what and why. */
  private static void report(CatchUpReport caughtUp) {
    for (CatchUpReport.ParkedChange parked : caughtUp.parked()) {
      System.out.printf("  %s holds %s#%s parked (%s): %s%n", caughtUp.peer(), parked.entity(), parked.id(),
          parked.reason(), parked.message());
    }
  }

  private <T> T inTransaction(String node, Function<EntityManager, T> work) {
    return Demos.inTransaction(factory(node), work);
  }

  private void show(String step) throws Exception {
    awaitCaughtUp();
    out.println("== " + step);
    notes.forEach(out::println); // what the step did, under its heading
    notes.clear();
    List<List<String>> table = new ArrayList<>();
    table.add(COLUMNS);
    for (String node : nodeNames()) {
      table.addAll(rowsOf(node));
    }
    Demos.printTable(out, table);
  }

  /** What a node holds, read from its own database: one row per task, cells never blank. */
  private List<List<String>> rowsOf(String node) {
    EntityManager em = factory(node).createEntityManager();
    try {
      List<Task> tasks = em.createQuery("select t from Task t left join fetch t.board order by t.title", Task.class)
          .getResultList();
      if (tasks.isEmpty()) {
        return List.of(List.of(node, "(none)", "-", "-", "-", "-", "-", "-", "-"));
      }
      List<List<String>> rows = new ArrayList<>();
      for (Task task : tasks) {
        Assignment assignment = task.getAssignment();
        rows.add(List.of(
            node,
            task.getTitle(),
            task.getStatus().name(),
            assignment == null ? "-" : assignment.getPerson(),
            assignment == null ? "-" : String.valueOf(assignment.getDue()),
            task.getBoard() == null ? "-" : task.getBoard().getName(),
            "v" + task.getVersion(),
            entanglement(node).ownerOf(Task.class, task.getId()).orElse("?"),
            Objects.requireNonNullElse(task.getLocalNote(), "-")));
      }
      return rows;
    } finally {
      em.close();
    }
  }

  private void waitUntilStopped() throws InterruptedException {
    out.println();
    out.println("The nodes keep running (--keep-running). They listen on:");
    for (String node : nodeNames()) {
      out.printf("  %-8s %s%n", node, entanglement(node).listenAddress().orElse("-"));
    }
    out.println("Press Ctrl-C to stop.");
    out.flush();
    Thread hook = new Thread(this::close, "sample-app-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      new CountDownLatch(1).await(); // until Ctrl-C (the hook closes the nodes) or an interrupt
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // Ctrl-C: the hook runs
      }
    }
  }
}
