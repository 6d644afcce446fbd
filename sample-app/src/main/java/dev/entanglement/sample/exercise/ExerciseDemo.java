package dev.entanglement.sample.exercise;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.Transition;
import dev.entanglement.hibernate.TransitionEvent;
import dev.entanglement.hibernate.TransitionListener;
import dev.entanglement.hibernate.UpdateRequestException;
import dev.entanglement.hibernate.tls.DevCertificates;
import dev.entanglement.sample.Demos;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.Persistence;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The exercise: {@code staff}, {@code range}, {@code red} and {@code blue}, four nodes in one JVM,
 * each with its own H2 database, over gRPC with mutual TLS on loopback (development certificates
 * made on the first run). {@code range} listens; the others dial
 * it, so it is the gateway between them. Every node runs {@link ExerciseRules}.
 *
 * <p>The script: the teams register the machines they work on and hand one over; staff follows
 * everything; a blue analyst at staff proposes a change to a blue machine (forwarded to blue,
 * accepted); blue's change to a red machine is refused; red drags a marker on the shared board
 * (a transition everyone sees live, then commits); blue goes away, things change, blue catches
 * up. After each step it prints what each node holds in its own database, and checks that the
 * teams never see each other's machines. Exits 0 when every check held.
 */
public final class ExerciseDemo {
  static final String USAGE = "usage: ExerciseDemo [--keep-running] [--certificates DIR]";
  /** Where the development certificates are kept between runs, unless --certificates says otherwise. */
  static final Path DEFAULT_CERTIFICATES = Path.of(System.getProperty("java.io.tmpdir"), "entanglement-exercise-certificates");
  private static final String UNIT = "exercise"; // META-INF/persistence.xml
  private static final List<String> NODES = List.of("staff", "range", "red", "blue");

  private final PrintStream out;
  private final Map<String, EntityManagerFactory> nodes = new LinkedHashMap<>(); // guarded by this
  private final String run = UUID.randomUUID().toString().substring(0, 8);
  private final List<String> seenLive = new CopyOnWriteArrayList<>();
  private String rangeAddress;
  private Path certificates = DEFAULT_CERTIFICATES;
  /** The admin token of this run (every node's admin API), printed with --keep-running. */
  private final String adminToken = UUID.randomUUID().toString().replace("-", "");
  private boolean scriptDone;
  private final List<String> notes = new ArrayList<>(); // the running step's lines, main thread only

  private ExerciseDemo(PrintStream out) {
    this.out = out;
  }

  public static void main(String[] args) {
    dev.entanglement.sample.SampleApp.quietLogging();
    System.exit(run(args, System.out));
  }

  /** Runs the demo, printing to {@code out}; returns the process exit code. */
  public static int run(String[] args, PrintStream out) {
    boolean keepRunning = false;
    Path certificateDir = DEFAULT_CERTIFICATES;
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      switch (arg) {
        case "--keep-running" -> keepRunning = true;
        case "--certificates" -> {
          if (i + 1 == args.length) {
            out.println("--certificates needs a directory");
            out.println(USAGE);
            return 2;
          }
          certificateDir = Path.of(args[++i]);
        }
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
    ExerciseDemo demo = new ExerciseDemo(out);
    demo.certificates = certificateDir;
    boolean interrupted = false;
    try {
      demo.script();
      if (keepRunning) {
        demo.waitUntilStopped();
      }
      return 0;
    } catch (InterruptedException e) {
      interrupted = true;
      out.println(demo.scriptDone ? "Stopped." : "Interrupted.");
      return demo.scriptDone ? 0 : 1;
    } catch (Exception e) {
      out.println("The demo failed: " + e);
      e.printStackTrace(out);
      return 1;
    } finally {
      demo.close();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void script() throws Exception {
    createCertificates();
    start("range", null);
    rangeAddress = entanglement("range").listenAddress().orElseThrow();
    for (String node : List.of("staff", "red", "blue")) {
      start(node, rangeAddress);
    }
    for (String node : List.of("staff", "red", "blue")) {
      awaitConnected(node);
    }
    out.println("Four nodes, each with its own H2 database: range listens on " + rangeAddress
        + "; staff, red and blue dial it, over mutual TLS (certificates in " + certificates + ").");
    out.println("Rules on every node (ExerciseRules): red and blue share with staff and range, never with each other.");
    out.println();

    Marker objective = new Marker(1, "objective A");
    inTransaction("staff", em -> {
      em.persist(new Announcement(1, "Exercise starts at 09:00"));
      em.persist(objective);
      return null;
    });
    inTransaction("red", em -> {
      em.persist(new Machine("red-web", "red"));
      em.persist(new Machine("red-db", "red"));
      return null;
    });
    inTransaction("blue", em -> {
      em.persist(new Machine("blue-mail", "blue"));
      em.persist(new Machine("blue-dc", "blue"));
      return null;
    });
    show("1. red and blue register their machines; staff posts an announcement and a board marker");

    Machine handed = entanglement("blue").transfer(Machine.class, new Machine("blue-dc", "blue").getId(), "staff")
        .get(Demos.WAIT_SECONDS, TimeUnit.SECONDS);
    note(String.format("blue handed %s over to staff: its owner is now %s everywhere", handed.getName(),
        entanglement("blue").ownerOf(Machine.class, handed.getId()).orElse("?")));
    show("2. blue hands blue-dc over to staff (staff's objects are shared with everyone)");

    Machine blueMail = new Machine("blue-mail", "blue");
    Machine patched = entanglement("staff")
        .update(Machine.class, blueMail.getId(), m -> m.setStatus("patched by blue analyst"))
        .get(Demos.WAIT_SECONDS, TimeUnit.SECONDS);
    note(String.format("a blue analyst at staff asked blue to patch blue-mail: blue decided, status '%s', version %d",
        patched.getStatus(), patched.getVersion()));
    show("3. a change proposed at staff for a blue machine is forwarded through range to blue");

    try {
      entanglement("blue").create(new Machine("red-web", "red"), "red").get(Demos.WAIT_SECONDS, TimeUnit.SECONDS);
      throw new IllegalStateException("blue's change of a red machine was accepted");
    } catch (ExecutionException e) {
      // range never told blue that red exists (no name, position or route: metadata follows the
      // policies), so the request has nowhere to go and ends unsent after its lifetime
      if (!(e.getCause() instanceof UpdateRequestException.OwnerUnreachable unreachable)) {
        throw e;
      }
      note(String.format("blue tried to overwrite red-web: not sent: %s", unreachable.getMessage()));
    }
    show("4. blue's attempt on a red machine goes nowhere: blue has never heard of red; nothing changed");

    for (String node : List.of("staff", "range", "blue")) {
      entanglement(node).addTransitionListener(new LiveBoard(node));
    }
    Transition<Marker> drag = entanglement("red").startTransition(Marker.class, objective.getId());
    drag.update(m -> m.moveTo(5, 5)).update(m -> m.moveTo(10, 10));
    // staff and range see it; blue does not: it may not learn that red exists, drags included
    Demos.awaitUntil(() -> seenLive.stream().filter(line -> line.contains("(10,10) provisional")).count() == 2,
        "staff and range to see red's drag");
    note("red drags the marker; what the other nodes are shown while it moves (not stored anywhere):");
    seenLive.forEach(line -> note("  " + line));
    note("  blue is shown nothing of it: it may not learn that red exists");
    checkMarkerEverywhere(0, 0);
    note("their databases still hold the marker at (0,0)");
    seenLive.clear();
    Marker dropped = drag.commit().get(Demos.WAIT_SECONDS, TimeUnit.SECONDS);
    note(String.format("red drops it: staff, the owner, commits %s", dropped));
    show("5. a marker dragged by red (a transition), then committed by its owner");

    stop("blue");
    inTransaction("staff", em -> {
      em.persist(new Announcement(2, "Phase 2 starts now"));
      em.find(Marker.class, objective.getId()).moveTo(20, 5);
      return null;
    });
    inTransaction("red", em -> {
      em.find(Machine.class, new Machine("red-web", "red").getId()).setStatus("compromised");
      return null;
    });
    show("6. blue is away; staff announces phase 2 and moves the marker; red's web server is compromised");

    start("blue", rangeAddress);
    awaitConnected("blue");
    show("7. blue is back and catches up (with what it may see only)");

    out.println("Every check held: red never received blue's machines, blue never red's; staff saw everything.");
    scriptDone = true;
  }

  /** Shows other nodes' transitions as they arrive, like a board UI would. */
  private final class LiveBoard implements TransitionListener {
    private final String node;

    LiveBoard(String node) {
      this.node = node;
    }

    @Override
    public void provisional(TransitionEvent event) {
      if (event.values().containsKey("x")) {
        seenLive.add("%-5s sees the marker at (%s,%s) provisional, dragged by %s".formatted(node,
            event.values().get("x"), event.values().get("y"), event.origin()));
      }
    }
  }

  /** The exercise CA and one certificate per node, created on the first run and kept. */
  private void createCertificates() throws Exception {
    Path ca = certificates.resolve("ca");
    if (!Files.exists(ca.resolve(DevCertificates.CERTIFICATE))) {
      DevCertificates.createCa(ca, "Exercise CA");
    }
    for (String node : NODES) {
      if (!Files.exists(certificates.resolve(node).resolve(DevCertificates.CERTIFICATE))) {
        DevCertificates.createNode(certificates.resolve(node), ca, node);
      }
    }
  }

  // ---- nodes -----------------------------------------------------------------------------------

  private Map<String, Object> nodeSettings(String node, String peer) {
    Map<String, Object> settings = new HashMap<>();
    settings.put("jakarta.persistence.jdbc.url", "jdbc:h2:mem:exercise-" + node + "-" + run + ";DB_CLOSE_DELAY=-1");
    settings.put(EntanglementSettings.NODE_NAME, node);
    settings.put(EntanglementSettings.LISTEN, "127.0.0.1:0");
    if (peer != null) {
      settings.put(EntanglementSettings.PEERS, peer);
    }
    settings.put(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50");
    settings.put(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "500");
    // a request that cannot be routed (step 4) ends within the demo's wait, not after the default 6 hours
    settings.put(EntanglementSettings.REQUEST_LIFETIME, "5s");
    settings.put(EntanglementSettings.TLS_CERTIFICATE, certificates.resolve(node).resolve(DevCertificates.CERTIFICATE).toString());
    settings.put(EntanglementSettings.TLS_PRIVATE_KEY, certificates.resolve(node).resolve(DevCertificates.PRIVATE_KEY).toString());
    settings.put(EntanglementSettings.TLS_TRUST, certificates.resolve("ca").resolve(DevCertificates.CERTIFICATE).toString());
    settings.put(EntanglementSettings.ADMIN_LISTEN, "127.0.0.1:0");
    settings.put(EntanglementSettings.ADMIN_TOKEN, adminToken);
    return settings;
  }

  private void start(String node, String peer) {
    EntityManagerFactory factory = Persistence.createEntityManagerFactory(UNIT, nodeSettings(node, peer));
    synchronized (this) {
      nodes.put(node, factory);
    }
  }

  private void stop(String node) throws InterruptedException {
    EntityManagerFactory factory;
    synchronized (this) {
      factory = nodes.remove(node);
    }
    factory.close();
    Demos.awaitUntil(() -> !entanglement("range").connectedPeers().contains(node), "range to see " + node + " leave");
  }

  private synchronized void close() {
    for (EntityManagerFactory factory : nodes.values()) {
      if (factory.isOpen()) {
        factory.close();
      }
    }
    nodes.clear();
  }

  private synchronized List<String> running() {
    return NODES.stream().filter(nodes::containsKey).toList();
  }

  private synchronized Entanglement entanglement(String node) {
    return Entanglement.of(nodes.get(node));
  }

  private synchronized EntityManagerFactory factory(String node) {
    return nodes.get(node);
  }

  private void awaitConnected(String node) throws InterruptedException {
    Demos.awaitUntil(() -> entanglement(node).connectedPeers().contains("range")
        && entanglement("range").connectedPeers().contains(node), node + " and range to connect");
  }


  /** Every link caught up both ways, twice: range relays what it applies from one team to the others. */
  private void awaitCaughtUp() throws Exception {
    for (int round = 0; round < 2; round++) {
      for (String node : running()) {
        if (!node.equals("range")) {
          entanglement(node).caughtUp("range").get(Demos.WAIT_SECONDS, TimeUnit.SECONDS);
          entanglement("range").caughtUp(node).get(Demos.WAIT_SECONDS, TimeUnit.SECONDS);
        }
      }
    }
  }

  private <T> T inTransaction(String node, Function<EntityManager, T> work) {
    return Demos.inTransaction(factory(node), work);
  }

  // ---- what each node holds ----------------------------------------------------------------------

  /** What a step did, printed under its heading (the heading names the step, then what happened, then the table). */
  private void note(String line) {
    notes.add(line);
  }

  private void show(String step) throws Exception {
    awaitCaughtUp();
    out.println("== " + step);
    notes.forEach(out::println);
    notes.clear();
    List<List<String>> table = new ArrayList<>();
    table.add(List.of("node", "machines (owner: status)", "announcements", "marker"));
    for (String node : running()) {
      table.add(rowOf(node));
    }
    Demos.printTable(out, table);
    checkVisibility();
  }

  private List<String> rowOf(String node) {
    EntityManager em = factory(node).createEntityManager();
    try {
      String machines = em.createQuery("from Machine order by name", Machine.class).getResultList().stream()
          .map(m -> "%s (%s: %s)".formatted(m.getName(),
              entanglement(node).ownerOf(Machine.class, m.getId()).orElse("?"), m.getStatus()))
          .collect(Collectors.joining(", "));
      long announcements = em.createQuery("select count(a) from Announcement a", Long.class).getSingleResult();
      Marker marker = em.find(Marker.class, 1L);
      return List.of(node, machines.isEmpty() ? "(none)" : machines, String.valueOf(announcements),
          marker == null ? "-" : marker.toString());
    } finally {
      em.close();
    }
  }

  private List<String> machineTeams(String node) {
    EntityManager em = factory(node).createEntityManager();
    try {
      return em.createQuery("select m.name from Machine m", String.class).getResultList();
    } finally {
      em.close();
    }
  }

  /** The rules the demo shows, checked in every node's database after every step. */
  private void checkVisibility() {
    for (String node : running()) {
      for (String machine : machineTeams(node)) {
        String owner = entanglement(node).ownerOf(Machine.class,
            UUID.nameUUIDFromBytes(machine.getBytes(java.nio.charset.StandardCharsets.UTF_8))).orElse("?");
        if ((node.equals("red") && owner.equals("blue")) || (node.equals("blue") && owner.equals("red"))) {
          throw new IllegalStateException(node + " holds " + machine + " of team " + owner);
        }
      }
    }
  }

  private void checkMarkerEverywhere(int x, int y) {
    for (String node : running()) {
      EntityManager em = factory(node).createEntityManager();
      try {
        Marker marker = em.find(Marker.class, 1L);
        if (marker == null || marker.getX() != x || marker.getY() != y) {
          throw new IllegalStateException(node + " stored the marker at " + marker + ", expected (" + x + "," + y + ")");
        }
      } finally {
        em.close();
      }
    }
  }

  private void waitUntilStopped() throws InterruptedException {
    out.println();
    out.println("The nodes keep running (--keep-running):");
    out.printf("  %-6s %-22s %s%n", "node", "replication", "admin API");
    for (String node : running()) {
      out.printf("  %-6s %-22s %s%n", node, entanglement(node).listenAddress().orElse("-"),
          entanglement(node).adminAddress().orElse("-"));
    }
    out.println("Ask a node with the command-line client (mvn -B -q -DskipTests install builds it), e.g.:");
    out.printf("  entanglement-cli/bin/entanglement peers --target %s --server-name range --tls-trust %s --token %s%n",
        entanglement("range").adminAddress().orElse("?"), certificates.resolve("ca").resolve(DevCertificates.CERTIFICATE),
        adminToken);
    out.println("Press Ctrl-C to stop.");
    out.flush();
    Thread hook = new Thread(this::close, "exercise-demo-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      new CountDownLatch(1).await();
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // Ctrl-C: the hook runs
      }
    }
  }
}
