package dev.entanglement.sample;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.sample.model.Board;
import dev.entanglement.sample.model.Task;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.Persistence;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Three nodes on loopback, each with its own H2 database, replicating a task board: {@code alpha}
 * listens, {@code bravo} and {@code charlie} dial it. The script creates, updates and deletes
 * tasks, shows them arriving everywhere (alpha relays between bravo and charlie), forwards a
 * change of another node's task to its owner, and catches a node up after it was away. After
 * each step it prints what every node holds in its own database, then exits 0
 * ({@code --keep-running} leaves the nodes up).
 */
public final class SampleApp {
  private static final String UNIT = "tasks";
  private static final long WAIT_SECONDS = 30;

  private final PrintStream out;
  private final Map<String, EntityManagerFactory> nodes = new LinkedHashMap<>();
  private final Map<String, Map<String, Object>> settings = new HashMap<>();
  private final String run = UUID.randomUUID().toString().substring(0, 8);

  private SampleApp(PrintStream out) {
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    // Hibernate and the plugin log through JBoss Logging: send it to java.util.logging, quietly
    System.setProperty("org.jboss.logging.provider", "jdk");
    Logger.getLogger("").setLevel(Level.WARNING);
    Logger.getLogger("org.hibernate").setLevel(Level.SEVERE);
    for (var handler : Logger.getLogger("").getHandlers()) {
      handler.setLevel(Level.WARNING);
    }
    System.exit(run(args, System.out));
  }

  /** Runs the demo; returns the process exit code. */
  public static int run(String[] args, PrintStream out) throws Exception {
    boolean keepRunning = List.of(args).contains("--keep-running");
    for (String arg : args) {
      if (!arg.equals("--keep-running")) {
        out.println("unknown option '" + arg + "'; usage: SampleApp [--keep-running]");
        return 2;
      }
    }
    SampleApp app = new SampleApp(out);
    try {
      app.script();
      if (keepRunning) {
        app.nodes.forEach((name, factory) -> out.printf("%-8s listens on %s%n", name,
            Entanglement.of(factory).listenAddress().orElse("-")));
        out.println("Nodes are running; press Ctrl-C to stop.");
        new CountDownLatch(1).await();
      }
      return 0;
    } finally {
      app.close();
    }
  }

  private void script() throws Exception {
    start("alpha", null);
    String alphaAddress = Entanglement.of(nodes.get("alpha")).listenAddress().orElseThrow();
    start("bravo", alphaAddress);
    start("charlie", alphaAddress);
    for (String node : List.of("bravo", "charlie")) {
      awaitConnected(node, "alpha");
    }
    out.println("Three nodes: bravo and charlie dial alpha on " + alphaAddress + "\n");

    Board board = new Board("Launch");
    List<Task> tasks = new ArrayList<>();
    inTransaction("alpha", em -> {
      em.persist(board);
      for (String title : List.of("Write docs", "Ship release", "Tidy backlog")) {
        Task task = new Task(board, title);
        task.setPrivateNote("only alpha sees this note");
        em.persist(task);
        tasks.add(task);
      }
    });
    show("1. alpha creates a board and three tasks");

    inTransaction("alpha", em -> {
      em.find(Task.class, tasks.get(0).getId()).setStatus(Task.Status.DONE);
      em.find(Task.class, tasks.get(1).getId()).setTitle("Ship release 1.0");
    });
    show("2. alpha finishes one task and renames another");

    inTransaction("alpha", em -> em.remove(em.find(Task.class, tasks.get(2).getId())));
    show("3. alpha deletes a task");

    Task fromBravo = new Task(null, "Review from bravo");
    inTransaction("bravo", em -> em.persist(fromBravo));
    show("4. bravo adds a task (it owns it; alpha relays it to charlie)");

    Task asked = Entanglement.of(nodes.get("charlie"))
        .update(Task.class, fromBravo.getId(), t -> t.setStatus(Task.Status.DOING))
        .get(WAIT_SECONDS, TimeUnit.SECONDS);
    out.println("charlie's request came back from bravo: " + asked.getTitle() + " is " + asked.getStatus());
    show("5. charlie asks bravo (the owner) to start bravo's task");

    close("charlie");
    inTransaction("alpha", em -> em.find(Task.class, tasks.get(1).getId()).setStatus(Task.Status.DOING));
    Task whileAway = new Task(null, "Plan 1.1");
    inTransaction("alpha", em -> em.persist(whileAway));
    out.println("charlie is away; alpha changes a task and adds one");
    start("charlie", alphaAddress);
    awaitConnected("charlie", "alpha");
    show("6. charlie is back and catches up");
  }

  private void start(String node, String peer) {
    Map<String, Object> overrides = settings.computeIfAbsent(node, n -> new HashMap<>());
    overrides.put("jakarta.persistence.jdbc.url", "jdbc:h2:mem:" + node + "-" + run + ";DB_CLOSE_DELAY=-1");
    overrides.put("entanglement.node.name", node);
    if (peer != null) {
      overrides.put("entanglement.peers", peer);
      overrides.put("entanglement.listen", "");
      overrides.put("entanglement.reconnect.initial_delay_ms", "50");
      overrides.put("entanglement.reconnect.max_delay_ms", "500");
    }
    nodes.put(node, Persistence.createEntityManagerFactory(UNIT, overrides));
  }

  private void close(String node) {
    EntityManagerFactory factory = nodes.remove(node);
    if (factory != null && factory.isOpen()) {
      factory.close();
    }
  }

  private void close() {
    for (String node : new ArrayList<>(nodes.keySet())) {
      close(node);
    }
  }

  private void awaitConnected(String node, String peer) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (!Entanglement.of(nodes.get(node)).connectedPeers().contains(peer)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(node + " did not connect to " + peer);
      }
      TimeUnit.MILLISECONDS.sleep(10); // the demo polls a status; tests wait on conditions
    }
  }

  private void inTransaction(String node, Consumer<EntityManager> work) {
    EntityManager em = nodes.get(node).createEntityManager();
    try {
      em.getTransaction().begin();
      work.accept(em);
      em.getTransaction().commit();
    } finally {
      if (em.getTransaction().isActive()) {
        em.getTransaction().rollback();
      }
      em.close();
    }
  }

  /** Waits until every node has answered every other, then prints what each holds. */
  private void show(String step) throws Exception {
    for (String node : nodes.keySet()) {
      Entanglement entanglement = Entanglement.of(nodes.get(node));
      for (String peer : entanglement.connectedPeers()) {
        entanglement.caughtUp(peer).get(WAIT_SECONDS, TimeUnit.SECONDS);
      }
    }
    // a relayed change needs the relaying node to be caught up too: once more, now that it is
    for (String node : nodes.keySet()) {
      Entanglement entanglement = Entanglement.of(nodes.get(node));
      for (String peer : entanglement.connectedPeers()) {
        entanglement.caughtUp(peer).get(WAIT_SECONDS, TimeUnit.SECONDS);
      }
    }
    out.println("== " + step);
    for (String node : nodes.keySet()) {
      EntityManager em = nodes.get(node).createEntityManager();
      try {
        List<Task> tasks = em.createQuery("from Task order by title", Task.class).getResultList();
        List<String> shown = new ArrayList<>();
        Entanglement entanglement = Entanglement.of(nodes.get(node));
        for (Task task : tasks) {
          String owner = entanglement.ownerOf(Task.class, task.getId()).orElse("?");
          shown.add("%s [%s, v%d, owner %s]".formatted(task.getTitle(), task.getStatus(), task.getVersion(), owner));
        }
        out.printf("  %-8s %s%n", node, String.join(" | ", shown));
      } finally {
        em.close();
      }
    }
    out.println();
  }
}
