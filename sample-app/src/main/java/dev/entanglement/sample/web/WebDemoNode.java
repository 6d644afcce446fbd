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
 * Optional argument: {@code --port PORT} for the web endpoint (default: a free one).
 */
public final class WebDemoNode implements AutoCloseable {
  private static final String UNIT = "web"; // META-INF/persistence.xml

  private final String run = UUID.randomUUID().toString().substring(0, 8); // unique database names
  private final Map<String, EntityManagerFactory> nodes = new LinkedHashMap<>(); // main thread only
  private String hqGrpc = "127.0.0.1:0";
  private String hqWeb;

  private WebDemoNode(int webPort) {
    this.hqWeb = "127.0.0.1:" + webPort;
  }

  public static void main(String[] args) throws Exception {
    SampleApp.quietLogging();
    int port = 0;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--port") && i + 1 < args.length) {
        port = Integer.parseInt(args[++i]);
      } else {
        System.err.println("usage: WebDemoNode [--port PORT]");
        System.exit(2);
      }
    }
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try (WebDemoNode demo = new WebDemoNode(port)) {
      demo.startHq();
      demo.start("red", demo.hqGrpc);
      demo.start("blue", demo.hqGrpc);
      demo.awaitConnected("red");
      demo.awaitConnected("blue");
      out.println("listening ws://" + demo.hqWeb + "/entanglement");
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
    }
    System.exit(0);
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
    for (EntityManagerFactory factory : nodes.values()) {
      if (factory.isOpen()) {
        factory.close();
      }
    }
  }
}
