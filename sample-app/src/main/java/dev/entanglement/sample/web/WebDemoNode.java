package dev.entanglement.sample.web;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.sample.Demos;
import dev.entanglement.sample.SampleApp;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.Persistence;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * A node for browsers, for the JavaScript client's tests and for trying the client by hand: three
 * nodes in one JVM, each on its own in-memory H2 database (which outlives a node's restart):
 * {@code hq} (staff) serves browsers on {@code entanglement.web.listen}, {@code red} and {@code
 * blue} dial it over loopback gRPC. The rules are {@link WebDemoRules}, the users {@link
 * WebDemoIdentity}'s tokens ({@code alice-secret} red, {@code bob-secret} blue, {@code
 * carol-secret} staff).
 *
 * <p>Prints {@code listening ws://127.0.0.1:PORT/entanglement} once every node is connected, then
 * reads commands from stdin, one a line, each answered by one line ({@code ok ...} or {@code
 * error ...}); it stops when stdin closes:
 * <pre>
 *   create NODE TITLE          a card owned by NODE (red, blue, hq): ok ID
 *   set NODE ID FIELD VALUE    the owner changes title, lane or points of its card: ok VERSION
 *   delete NODE ID             the owner deletes its card: ok
 *   get NODE ID                the card as NODE's database holds it: ok TITLE|LANE|POINTS|VERSION, or ok none
 *   stop hq / start hq         hq stops (its database stays) / starts again on the same ports
 *   connected NODE             ok PEER,PEER... (the node's connected peers, browsers included)
 *   drag NODE ID LANE          NODE starts a transition of a card it holds, to LANE (provisional): ok
 *   resync NODE                NODE's policies changed: every peer gets every owner again, between markers: ok
 * </pre>
 * Options: {@code --port PORT} for the web endpoint (default: a free one); {@code --page PORT} also
 * serves the live task board ({@link BoardPage}; 0: a free port), with the browser build of the
 * client from {@code --client DIR} (default: {@code entanglement-js/dist/browser} under the working
 * directory or its parent), and then the first line reads {@code listening ws://... page
 * http://.../}; {@code --seed} creates a few cards of red, blue and hq at the start.
 *
 * <p>{@code Main board} runs it for people: {@code --page 8080 --seed} unless told otherwise, with
 * the page's links printed.
 */
public final class WebDemoNode implements AutoCloseable {
  private static final String UNIT = "web"; // META-INF/persistence.xml

  private final String run = UUID.randomUUID().toString().substring(0, 8); // unique database names
  private final Map<String, EntityManagerFactory> nodes = new LinkedHashMap<>(); // main thread only
  private String hqGrpc = "127.0.0.1:0";
  private String hqWeb;

  private static final String USAGE =
      "usage: WebDemoNode [--port PORT] [--page PORT] [--client DIR] [--seed]";

  private BoardPage page; // main thread only

  private WebDemoNode(int webPort) {
    this.hqWeb = "127.0.0.1:" + webPort;
  }

  public static void main(String[] args) throws Exception {
    SampleApp.quietLogging();
    System.exit(run(args, false));
  }

  /** {@code Main board}: the live page on port 8080 with a few cards, for people. */
  public static int board(String[] args) throws Exception {
    boolean pageGiven = java.util.Arrays.asList(args).contains("--page");
    String[] all = pageGiven ? args : concat(args, "--page", "8080");
    return run(java.util.Arrays.asList(all).contains("--seed") ? all : concat(all, "--seed"), true);
  }

  private static String[] concat(String[] args, String... more) {
    String[] all = java.util.Arrays.copyOf(args, args.length + more.length);
    System.arraycopy(more, 0, all, args.length, more.length);
    return all;
  }

  private static int run(String[] args, boolean forPeople) throws Exception {
    int port = 0;
    Integer pagePort = null;
    java.nio.file.Path clientDir = null;
    boolean seed = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--port" -> port = Integer.parseInt(value(args, ++i));
        case "--page" -> pagePort = Integer.parseInt(value(args, ++i));
        case "--client" -> clientDir = java.nio.file.Path.of(value(args, ++i));
        case "--seed" -> seed = true;
        default -> {
          System.err.println("unknown option '" + args[i] + "'; " + USAGE);
          return 2;
        }
      }
    }
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try (WebDemoNode demo = new WebDemoNode(port)) {
      demo.startHq();
      demo.start("red", demo.hqGrpc);
      demo.start("blue", demo.hqGrpc);
      demo.awaitConnected("red");
      demo.awaitConnected("blue");
      if (seed) {
        demo.seed();
      }
      String listening = "listening " + demo.webSocketUrl();
      if (pagePort != null) {
        demo.page = new BoardPage("127.0.0.1", pagePort, clientDir != null ? clientDir : defaultClientDir(),
            demo::webSocketUrl);
        listening += " page " + demo.page.url();
      }
      out.println(listening);
      if (forPeople) {
        printLinks(out, demo.page);
      }
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        if (line.isBlank()) {
          continue;
        }
        String answer;
        try {
          answer = "ok " + demo.command(line.trim().split(" ", 5));
        } catch (RuntimeException e) {
          answer = "error " + e.getMessage();
        }
        out.println(answer.strip());
      }
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    return 0;
  }

  private static String value(String[] args, int i) {
    if (i >= args.length) {
      throw new IllegalArgumentException(args[i - 1] + " needs a value; " + USAGE);
    }
    return args[i];
  }

  private static java.nio.file.Path defaultClientDir() {
    java.nio.file.Path here = java.nio.file.Path.of("entanglement-js", "dist", "browser");
    java.nio.file.Path parent = java.nio.file.Path.of("..", "entanglement-js", "dist", "browser");
    return java.nio.file.Files.isDirectory(here) || !java.nio.file.Files.isDirectory(parent) ? here : parent;
  }

  private static void printLinks(PrintStream out, BoardPage page) {
    String url = page.url();
    out.println();
    out.println("The live task board. Open two users side by side:");
    out.println("  alice (team red):  " + url + "?token=alice-secret");
    out.println("  dan   (team red):  " + url + "?token=dan-secret");
    out.println("  bob   (team blue): " + url + "?token=bob-secret");
    out.println("  carol (staff):     " + url + "?token=carol-secret");
    out.println("Drag a card to another lane: the other red tab shows it moving, then the owner's commit.");
    out.println("'locked' cards are refused with a reason; bob never sees red's cards, nor red bob's.");
    out.println("Commands here (one a line): stop hq, start hq, create red TITLE, set red ID lane done...");
    out.println("Ctrl-D or Ctrl-C stops.");
  }

  private String webSocketUrl() {
    return "ws://" + hqWeb + "/entanglement";
  }

  /** A few cards so the board is not empty: red's (one locked), blue's, hq's. */
  private void seed() throws InterruptedException {
    String[][] cards = {
        {"red", "Plan the route", "todo"}, {"red", "Pack the radios", "doing"},
        {"red", "locked: safety briefing", "todo"}, {"blue", "Scout the ridge", "todo"},
        {"blue", "Blue's supply list", "doing"}, {"hq", "Debrief at 18:00", "todo"}};
    for (String[] card : cards) {
      Card created = new Card(card[1]);
      created.setLane(card[2]);
      Demos.inTransaction(node(card[0]), em -> {
        em.persist(created);
        return null;
      });
    }
    Demos.awaitUntil(() -> Demos.inTransaction(node("hq"),
        em -> em.createQuery("select count(c) from Card c", Long.class).getSingleResult()) == cards.length,
        "hq to hold the seeded cards");
  }

  private String command(String[] words) throws InterruptedException {
    switch (words[0]) {
      case "create" -> {
        String title = String.join(" ", java.util.Arrays.copyOfRange(words, 2, words.length));
        Card card = new Card(title);
        Demos.inTransaction(node(words[1]), em -> {
          em.persist(card);
          return null;
        });
        return card.getId().toString();
      }
      case "set" -> {
        Card card = Demos.inTransaction(node(words[1]), em -> {
          Card found = em.find(Card.class, UUID.fromString(words[2]));
          switch (words[3]) {
            case "title" -> found.setTitle(words[4]);
            case "lane" -> found.setLane(words[4]);
            case "points" -> found.setPoints(Integer.parseInt(words[4]));
            default -> throw new IllegalArgumentException("no field " + words[3]);
          }
          return found;
        });
        return String.valueOf(card.getVersion());
      }
      case "delete" -> {
        Demos.inTransaction(node(words[1]), em -> {
          em.remove(em.find(Card.class, UUID.fromString(words[2])));
          return null;
        });
        return "";
      }
      case "get" -> {
        Card card = Demos.inTransaction(node(words[1]), em -> em.find(Card.class, UUID.fromString(words[2])));
        return card == null ? "none"
            : card.getTitle() + "|" + card.getLane() + "|" + card.getPoints() + "|" + card.getVersion();
      }
      case "stop" -> {
        requireHq(words);
        nodes.remove("hq").close();
        return "";
      }
      case "start" -> {
        requireHq(words);
        startHq();
        awaitConnected("red");
        awaitConnected("blue");
        return "";
      }
      case "drag" -> {
        Entanglement.of(node(words[1])).startTransition(Card.class, UUID.fromString(words[2]))
            .update(card -> card.setLane(words[3]));
        return "";
      }
      case "resync" -> {
        Entanglement.of(node(words[1])).policyChanged();
        return "";
      }
      case "connected" -> {
        return String.join(",", new java.util.TreeSet<>(Entanglement.of(node(words[1])).connectedPeers()));
      }
      default -> throw new IllegalArgumentException("unknown command '" + words[0] + "'");
    }
  }

  private static void requireHq(String[] words) {
    if (words.length < 2 || !words[1].equals("hq")) {
      throw new IllegalArgumentException("only hq stops and starts");
    }
  }

  private EntityManagerFactory node(String name) {
    EntityManagerFactory factory = nodes.get(name);
    if (factory == null) {
      throw new IllegalArgumentException("no running node '" + name + "'");
    }
    return factory;
  }

  /** Starts hq; the first start picks free ports, a restart takes the same ones again. */
  private void startHq() {
    Map<String, Object> settings = settings("hq");
    settings.put(EntanglementSettings.LISTEN, hqGrpc);
    settings.put(EntanglementSettings.WEB_LISTEN, hqWeb);
    settings.put(EntanglementSettings.WEB_IDENTITY, new WebDemoIdentity());
    EntityManagerFactory hq = Persistence.createEntityManagerFactory(UNIT, settings);
    nodes.put("hq", hq);
    hqGrpc = Entanglement.of(hq).listenAddress().orElseThrow();
    hqWeb = Entanglement.of(hq).webAddress().orElseThrow();
  }

  private void start(String name, String peer) {
    Map<String, Object> settings = settings(name);
    settings.put(EntanglementSettings.PEERS, peer);
    nodes.put(name, Persistence.createEntityManagerFactory(UNIT, settings));
  }

  private Map<String, Object> settings(String name) {
    Map<String, Object> settings = new HashMap<>();
    settings.put("jakarta.persistence.jdbc.url", "jdbc:h2:mem:web-" + name + "-" + run + ";DB_CLOSE_DELAY=-1");
    settings.put(EntanglementSettings.NODE_NAME, name);
    settings.put(EntanglementSettings.POLICY, new WebDemoRules());
    // loopback: dial again quickly after hq restarts
    settings.put(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "50");
    settings.put(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "500");
    return settings;
  }

  private void awaitConnected(String node) throws InterruptedException {
    Demos.awaitUntil(() -> Entanglement.of(node(node)).connectedPeers().contains("hq")
        && Entanglement.of(node("hq")).connectedPeers().contains(node), node + " and hq to connect");
  }

  @Override
  public void close() {
    if (page != null) {
      page.close();
    }
    for (EntityManagerFactory factory : nodes.values()) {
      if (factory.isOpen()) {
        factory.close();
      }
    }
  }
}
