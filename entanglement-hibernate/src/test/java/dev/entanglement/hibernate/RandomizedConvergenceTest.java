package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.testing.FreePorts;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.FaultyProxy;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Document;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.hibernate.testing.model.Step;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Three nodes in a full mesh over TCP through fault-injecting proxies: many rounds of random
 * changes (each node creates, updates and deletes its own objects, and hands some over), random
 * partitions and random restarts. An entity type ({@link Document}) is deployed at a first, as
 * in a rolling upgrade: b and c get it at their first restart after the middle of the run, and
 * meanwhile park its changes. In the end every node holds exactly every owner's state and
 * nothing is parked. The seed is printed and named in failures;
 * rerun one with {@code -Dentanglement.seed=N}.
 */
class RandomizedConvergenceTest {
  private static final String[] NAMES = {"a", "b", "c"};
  private static final int ROUNDS = 25;
  /** From this round on, a restart brings the new entity type to a node that lacks it. */
  private static final int UPGRADE_FROM_ROUND = ROUNDS / 2;

  private final Map<String, TestNode> nodes = new LinkedHashMap<>();
  private final List<FaultyProxy> proxies = new ArrayList<>();

  static Stream<Long> seeds() {
    String fixed = System.getProperty("entanglement.seed");
    if (fixed != null) {
      return Stream.of(Long.parseLong(fixed));
    }
    return Stream.of(1L, 42L, System.nanoTime());
  }

  @AfterEach
  void close() {
    nodes.values().forEach(TestNode::close);
    proxies.forEach(FaultyProxy::close);
  }


  @ParameterizedTest(name = "seed {0}")
  @MethodSource("seeds")
  void randomChangesPartitionsAndRestarts_convergeToTheOwnersState(long seed) throws Exception {
    System.out.println("RandomizedConvergenceTest seed=" + seed);
    Random random = new Random(seed);
    Map<String, Integer> ports = new HashMap<>();
    for (String name : NAMES) {
      ports.put(name, FreePorts.next());
    }
    // b dials a; c dials a and b: each pair has one link, each link its own proxy
    FaultyProxy ba = FaultyProxy.start("127.0.0.1", ports.get("a"));
    FaultyProxy ca = FaultyProxy.start("127.0.0.1", ports.get("a"));
    FaultyProxy cb = FaultyProxy.start("127.0.0.1", ports.get("b"));
    proxies.addAll(List.of(ba, ca, cb));
    Map<String, String> dials = Map.of("a", "", "b", ba.address(), "c", ca.address() + "," + cb.address());
    Map<String, TestNode.Builder> builders = new HashMap<>();
    Set<String> upgraded = new TreeSet<>(List.of("a"));
    for (String name : NAMES) {
      Class<?>[] entities = upgraded.contains(name) ? new Class<?>[] {Item.class, Step.class, Document.class}
          : new Class<?>[] {Item.class, Step.class};
      TestNode.Builder builder = TestNode.builder(name, Database.H2, entities)
          .set("hibernate.hbm2ddl.auto", "update")
          .set(EntanglementSettings.LISTEN, "127.0.0.1:" + ports.get(name))
          .set(EntanglementSettings.PLAINTEXT, "true")
          .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
          .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "300")
          .set(EntanglementSettings.HEARTBEAT_INTERVAL_MS, "200")
          .set(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, "1500");
      if (!dials.get(name).isEmpty()) {
        builder.peers(dials.get(name));
      }
      builders.put(name, builder);
      nodes.put(name, builder.start());
    }

    Map<String, List<UUID>> owned = new HashMap<>();
    Map<String, Integer> counters = new HashMap<>();
    for (String name : NAMES) {
      owned.put(name, new ArrayList<>());
      counters.put(name, 0);
    }
    List<String> log = new ArrayList<>();
    Map<UUID, String> handOvers = new HashMap<>(); // object -> new owner, until it has taken it over
    List<UUID> documents = new ArrayList<>(); // a's, of the type the others do not have at first
    Map<String, List<String>> steps = new HashMap<>(); // per node, its "send every change" objects
    for (int round = 0; round < ROUNDS; round++) {
      for (String name : NAMES) {
        int transactions = random.nextInt(4);
        for (int t = 0; t < transactions; t++) {
          randomTransaction(name, random, owned.get(name), counters);
        }
      }
      if (random.nextInt(10) < 4) {
        documentTransaction(random, documents, round);
      }
      String stepper = NAMES[random.nextInt(NAMES.length)];
      stepTransaction(stepper, random, steps.computeIfAbsent(stepper, n -> new ArrayList<>()), round);
      // hand an object over now and then; it belongs to no node's list until the new owner has it
      if (random.nextInt(10) < 3) {
        String from = NAMES[random.nextInt(NAMES.length)];
        String to = NAMES[(java.util.Arrays.asList(NAMES).indexOf(from) + 1 + random.nextInt(NAMES.length - 1)) % NAMES.length];
        List<UUID> fromOwned = owned.get(from);
        if (!fromOwned.isEmpty()) {
          UUID id = fromOwned.remove(random.nextInt(fromOwned.size()));
          nodes.get(from).entanglement().transfer(Item.class, id, to); // completes, or times out while apart
          handOvers.put(id, to);
          log.add("round " + round + ": hand " + id + " from " + from + " to " + to);
        }
      }
      handOvers.entrySet().removeIf(handOver -> {
        String to = handOver.getValue();
        if (tookOver(to, handOver.getKey())) {
          owned.get(to).add(handOver.getKey());
          return true;
        }
        return false;
      });
      if (random.nextInt(10) < 3) {
        FaultyProxy proxy = proxies.get(random.nextInt(proxies.size()));
        boolean cut = random.nextBoolean();
        if (cut) {
          proxy.cut();
        } else {
          proxy.heal();
        }
        log.add("round " + round + ": " + (cut ? "cut " : "heal ") + proxy.address());
      }
      if (random.nextInt(10) < 2) {
        String name = NAMES[random.nextInt(NAMES.length)];
        boolean upgrade = round >= UPGRADE_FROM_ROUND && upgraded.add(name);
        restart(name, builders.get(name), upgrade);
        log.add("round " + round + ": restart " + name + (upgrade ? " with the new type" : ""));
      }
    }
    for (String name : NAMES) {
      if (upgraded.add(name)) {
        restart(name, builders.get(name), true);
        log.add("end: restart " + name + " with the new type");
      }
    }
    proxies.forEach(FaultyProxy::heal);
    for (String name : NAMES) {
      for (String peer : NAMES) {
        if (!peer.equals(name)) {
          nodes.get(name).awaitConnected(peer);
        }
      }
    }
    for (String name : NAMES) {
      for (String peer : NAMES) {
        if (!peer.equals(name)) {
          nodes.get(name).awaitCaughtUp(peer);
        }
      }
    }
    for (Map.Entry<UUID, String> handOver : handOvers.entrySet()) {
      org.awaitility.Awaitility.await().alias("hand-over of " + handOver.getKey() + " (seed " + seed + ")")
          .atMost(java.time.Duration.ofSeconds(30)).until(() -> tookOver(handOver.getValue(), handOver.getKey()));
      owned.get(handOver.getValue()).add(handOver.getKey());
    }
    for (String name : NAMES) {
      for (String peer : NAMES) {
        if (!peer.equals(name)) {
          nodes.get(name).awaitCaughtUp(peer);
        }
      }
    }
    // one owner per object, the same at every node
    for (Map.Entry<String, List<UUID>> entry : owned.entrySet()) {
      for (UUID id : entry.getValue()) {
        for (String name : NAMES) {
          assertThat(nodes.get(name).entanglement().ownerOf(Item.class, id))
              .as("seed %d: the owner of %s at %s; events %s", seed, id, name, log).contains(entry.getKey());
        }
      }
    }
    List<String> expectedSteps = nodes.get("a").table("Step");
    assertThat(expectedSteps).as("seed %d: a holds every live step", seed)
        .hasSize(steps.values().stream().mapToInt(List::size).sum());
    for (String name : NAMES) {
      assertThat(nodes.get(name).table("Step"))
          .as("seed %d: node %s's steps (sent change by change) equal a's; events %s", seed, name, log)
          .isEqualTo(expectedSteps);
    }
    List<String> expectedDocuments = nodes.get("a").table("Document");
    assertThat(expectedDocuments).as("seed %d: a holds its live documents", seed).hasSize(documents.size());
    for (String name : NAMES) {
      assertThat(nodes.get(name).table("Document"))
          .as("seed %d: node %s's documents (a type it got late) equal a's; events %s", seed, name, log)
          .isEqualTo(expectedDocuments);
      assertThat(nodes.get(name).entanglement().parkedChanges())
          .as("seed %d: nothing left parked at %s; events %s", seed, name, log).isZero();
    }
    List<String> expected = nodes.get("a").table("Item");
    int total = owned.values().stream().mapToInt(List::size).sum();
    assertThat(expected).as("seed %d: a holds every live object (%s)", seed, log).hasSize(total);
    for (String name : NAMES) {
      if (!nodes.get(name).table("Item").equals(expected)) {
        for (String n : NAMES) { // the bookkeeping of every node, to tell what was skipped
          System.out.println("node " + n + " positions=" + nodes.get(n).table("entanglement_owner_position")
              + " objects=" + nodes.get(n).table("entanglement_object"));
        }
      }
      assertThat(nodes.get(name).table("Item"))
          .as("seed %d: node %s's Item table equals a's; events %s", seed, name, log)
          .isEqualTo(expected);
    }
  }

  private void restart(String name, TestNode.Builder builder, boolean upgrade) {
    nodes.get(name).close();
    if (upgrade) {
      builder.entities(Item.class, Step.class, Document.class);
    }
    nodes.put(name, builder.set("hibernate.hbm2ddl.auto", "update").start());
  }

  /** The node creates, advances or deletes one of its steps (a type whose every change is sent). */
  private void stepTransaction(String name, Random random, List<String> owned, int round) {
    int choice = owned.isEmpty() ? 0 : random.nextInt(4);
    nodes.get(name).inTransaction(em -> {
      if (choice == 0) {
        String id = name + "-step-" + round;
        em.persist(new Step(id, 0));
        owned.add(id);
      } else {
        String id = owned.get(random.nextInt(owned.size()));
        Step step = em.find(Step.class, id);
        if (choice < 3) {
          step.setAmount(step.getAmount() + 1 + choice);
        } else {
          em.remove(step);
          owned.remove(id);
        }
      }
    });
  }

  /** a creates, retitles or deletes one of its documents. */
  private void documentTransaction(Random random, List<UUID> documents, int round) {
    int choice = documents.isEmpty() ? 0 : random.nextInt(3);
    nodes.get("a").inTransaction(em -> {
      if (choice == 0) {
        Document document = new Document();
        document.title = "created in round " + round;
        em.persist(document);
        documents.add(document.id);
      } else {
        UUID id = documents.get(random.nextInt(documents.size()));
        Document document = em.find(Document.class, id);
        if (choice == 1) {
          document.title = "retitled in round " + round;
        } else {
          em.remove(document);
          documents.remove(id);
        }
      }
    });
  }

  /**
   * Whether the new owner has taken the object over (its own row names it), not only learned of
   * the hand-over: until then its changes of the object are requests, which the model here
   * cannot follow.
   */
  private boolean tookOver(String node, UUID id) {
    return node.equals(nodes.get(node).sql("select owner_node from entanglement_object where object_id = '" + id + "'"));
  }

  private void randomTransaction(String name, Random random, List<UUID> owned, Map<String, Integer> counters) {
    TestNode node = nodes.get(name);
    List<UUID> created = new ArrayList<>();
    List<UUID> deleted = new ArrayList<>();
    node.inTransaction(em -> {
      int operations = 1 + random.nextInt(3);
      for (int o = 0; o < operations; o++) {
        int choice = owned.size() - deleted.size() < 3 ? 0 : random.nextInt(3);
        if (choice == 0) {
          int n = counters.merge(name, 1, Integer::sum);
          Item item = new Item(name + "-" + n, "created " + n, random.nextInt(1000));
          em.persist(item);
          created.add(item.getId());
        } else {
          UUID id = owned.get(random.nextInt(owned.size()));
          Item item = deleted.contains(id) ? null : em.find(Item.class, id);
          if (item == null) {
            continue;
          }
          if (choice == 1) {
            item.setQuantity(random.nextInt(1000));
            item.setName("updated " + random.nextInt(1000));
          } else {
            em.remove(item);
            deleted.add(id);
          }
        }
      }
    });
    owned.addAll(created);
    owned.removeAll(deleted);
  }
}
