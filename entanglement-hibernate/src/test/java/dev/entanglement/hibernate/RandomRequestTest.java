package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.FreePorts;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.FaultyProxy;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Update requests over a line (a - b - c) and a tree (staff - range - red, range - blue) over TCP
 * through cuttable proxies: in random rounds every node creates its own objects and asks other
 * owners to update, delete and create objects, while links are cut and healed and requesters are
 * restarted. Once every link is healed, every request has ended with the owner's result or a
 * typed reason that the object moved on (not found, conflict); none ended as unreachable or
 * unknown, none is still pending, every request pending at a requester's restart was settled
 * after it, and every node holds exactly what the owners hold. The seed is printed; rerun one with
 * {@code -Dentanglement.seed=N} (and {@code -Dentanglement.topology=LINE|TREE}).
 */
class RandomRequestTest {
  private static final int ROUNDS = 30;

  enum Topology {
    /** Each entry: the dialing node and the node it dials. */
    LINE(List.of("a", "b", "c"), List.of(List.of("b", "a"), List.of("c", "b"))),
    TREE(List.of("staff", "range", "red", "blue"),
        List.of(List.of("range", "staff"), List.of("red", "range"), List.of("blue", "range")));

    final List<String> names;
    final List<List<String>> links;

    Topology(List<String> names, List<List<String>> links) {
      this.names = names;
      this.links = links;
    }
  }

  private final Map<String, TestNode> nodes = new LinkedHashMap<>();
  private final Map<String, TestNode.Builder> builders = new HashMap<>();
  private final Map<String, FaultyProxy> proxies = new LinkedHashMap<>();
  /** Every final outcome heard by any instance's listener, by request key. */
  private final Map<String, RequestEvent> heard = new ConcurrentHashMap<>();

  static Stream<Arguments> runs() {
    String seed = System.getProperty("entanglement.seed");
    if (seed != null) {
      return Stream.of(Arguments.of(Topology.valueOf(System.getProperty("entanglement.topology", "LINE")),
          Long.parseLong(seed)));
    }
    return Stream.of(Arguments.of(Topology.LINE, 13L), Arguments.of(Topology.TREE, 29L),
        Arguments.of(System.nanoTime() % 2 == 0 ? Topology.LINE : Topology.TREE, System.nanoTime()));
  }

  @AfterEach
  void close() {
    nodes.values().forEach(TestNode::close);
    proxies.values().forEach(FaultyProxy::close);
  }


  private record Asked(String requester, String what, CompletableFuture<?> future) {}

  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("runs")
  void requestsOverFlappingLinksAndRestarts_allEndWithTheOwnersAnswer(Topology topology, long seed) throws Exception {
    System.out.println("RandomRequestTest topology=" + topology + " seed=" + seed
        + " (rerun: -Dentanglement.topology=" + topology + " -Dentanglement.seed=" + seed + ")");
    Random random = new Random(seed);
    Map<String, Integer> ports = new HashMap<>();
    for (String name : topology.names) {
      ports.put(name, FreePorts.next());
    }
    Map<String, List<String>> dials = new HashMap<>();
    for (List<String> link : topology.links) {
      FaultyProxy proxy = FaultyProxy.start("127.0.0.1", ports.get(link.get(1)));
      proxies.put(link.get(0) + "-" + link.get(1), proxy);
      dials.computeIfAbsent(link.get(0), n -> new ArrayList<>()).add(proxy.address());
    }
    for (String name : topology.names) {
      TestNode.Builder builder = TestNode.builder(name, Database.H2, Item.class)
          .set(EntanglementSettings.LISTEN, "127.0.0.1:" + ports.get(name))
          .set(EntanglementSettings.PLAINTEXT, "true")
          .set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
          .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "300")
          .set(EntanglementSettings.HEARTBEAT_INTERVAL_MS, "200")
          .set(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, "1500")
          .set("entanglement.request.lifetime", "10m");
      if (dials.containsKey(name)) {
        builder.peers(String.join(",", dials.get(name)));
      }
      builders.put(name, builder);
      nodes.put(name, listened(builder.start()));
    }

    Map<String, List<UUID>> owned = new HashMap<>();
    topology.names.forEach(name -> owned.put(name, new ArrayList<>()));
    List<Asked> asked = new ArrayList<>();
    Map<String, Set<String>> pendingAtRestart = new TreeMap<>();
    int counter = 0;
    int cuts = 0;
    int restarts = 0;
    for (int round = 0; round < ROUNDS; round++) {
      for (String name : topology.names) {
        if (random.nextInt(10) < 5) {
          Item item = new Item(name + "-" + (++counter), "new", 0);
          nodes.get(name).inTransaction(em -> em.persist(item));
          owned.get(name).add(item.getId());
        }
      }
      int requests = 2 + random.nextInt(4);
      for (int r = 0; r < requests; r++) {
        String requester = pick(random, topology.names);
        String owner = pick(random, topology.names);
        if (owner.equals(requester)) {
          continue;
        }
        TestNode node = nodes.get(requester);
        int dice = random.nextInt(10);
        if (dice < 2) {
          Item created = new Item(requester + "-for-" + owner + "-" + (++counter), "created by request", 0);
          asked.add(new Asked(requester, "create " + created.getCode() + " at " + owner,
              node.entanglement().create(created, owner)));
          continue;
        }
        List<UUID> candidates = owned.get(owner);
        if (candidates.isEmpty()) {
          continue;
        }
        UUID id = candidates.get(random.nextInt(candidates.size()));
        if (node.find(Item.class, id) == null) {
          continue; // not arrived yet behind a cut link
        }
        if (dice < 3) {
          asked.add(new Asked(requester, "delete " + id + " of " + owner, node.entanglement().delete(Item.class, id)));
        } else if (dice < 5) {
          // an ordinary JPA transaction: the change becomes a request that only the listeners hear
          String name = requester + "-jpa-" + (++counter);
          node.inTransaction(em -> {
            Item item = em.find(Item.class, id);
            if (item != null) {
              item.setName(name);
            }
          });
        } else {
          String name = requester + "-" + (++counter);
          asked.add(new Asked(requester, "update " + id + " of " + owner + " to " + name,
              node.entanglement().update(Item.class, id, item -> item.setName(name))));
        }
      }
      int links = random.nextInt(10);
      if (links < 3) {
        FaultyProxy proxy = pick(random, new ArrayList<>(proxies.values()));
        proxy.cut();
        cuts++;
      } else if (links < 7) {
        pick(random, new ArrayList<>(proxies.values())).heal();
      }
      if (random.nextInt(100) < 15) {
        String restarted = pick(random, topology.names);
        TestNode node = nodes.get(restarted);
        // what it still waits for must be settled after the restart (or just before it)
        pendingAtRestart.computeIfAbsent(restarted, n -> new java.util.TreeSet<>())
            .addAll(node.entanglement().pendingRequests().stream().map(PendingRequest::requestKey).toList());
        node.close();
        restarts++;
        asked.removeIf(a -> a.requester().equals(restarted) && !a.future().isDone()); // its futures died with it
        nodes.put(restarted, listened(builders.get(restarted).set("hibernate.hbm2ddl.auto", "update").start()));
      }
    }

    proxies.values().forEach(FaultyProxy::heal);
    System.out.printf("RandomRequestTest seed=%d: %d requests with futures, %d link cuts, %d restarts, %d requests "
        + "pending at restarts%n", seed, asked.size(), cuts, restarts,
        pendingAtRestart.values().stream().mapToInt(Set::size).sum());
    for (Asked a : asked) {
      Throwable failure = await().alias(a.requester() + ": " + a.what() + " (seed " + seed + ")")
          .atMost(Duration.ofSeconds(60)).until(() -> outcome(a.future()), f -> f != NOT_DONE);
      if (failure != SUCCEEDED) {
        assertThat(failure).as("%s: %s (seed %d)", a.requester(), a.what(), seed)
            .isInstanceOfAny(UpdateRequestException.NotFound.class, UpdateRequestException.Conflict.class);
      }
    }
    for (String name : topology.names) {
      await().alias(name + " settled every request (seed " + seed + ")").atMost(Duration.ofSeconds(60))
          .until(() -> nodes.get(name).entanglement().pendingRequests().isEmpty());
    }
    pendingAtRestart.forEach((name, keys) -> assertThat(heard.keySet())
        .as("requests pending at %s's restart were settled (seed %d)", name, seed).containsAll(keys));
    assertThat(heard.values()).as("outcomes heard (seed %d)", seed)
        .allSatisfy(event -> assertThat(event.outcome()).isIn(RequestEvent.Outcome.APPLIED, RequestEvent.Outcome.REFUSED))
        .allSatisfy(event -> {
          if (event.failure() != null) {
            assertThat(event.failure()).isInstanceOfAny(UpdateRequestException.NotFound.class,
                UpdateRequestException.Conflict.class);
          }
        });
    await().alias("every node holds what the owners hold (seed " + seed + ")").atMost(Duration.ofSeconds(60))
        .untilAsserted(() -> {
          Map<UUID, String> truth = new HashMap<>();
          for (String name : topology.names) {
            for (Item item : nodes.get(name).all(Item.class)) {
              if (name.equals(nodes.get(name).entanglement().ownerOf(Item.class, item.getId()).orElse(null))) {
                truth.put(item.getId(), item.getName());
              }
            }
          }
          for (String name : topology.names) {
            Map<UUID, String> held = new HashMap<>();
            nodes.get(name).all(Item.class).forEach(item -> held.put(item.getId(), item.getName()));
            assertThat(held).as(() -> "%s's items (seed %d); %s".formatted(name, seed, differences(topology, truth, held)))
                .isEqualTo(truth);
          }
        });
  }

  /** For a failure: each object that differs, with its bookkeeping row and the owners' positions at every node. */
  private String differences(Topology topology, Map<UUID, String> truth, Map<UUID, String> held) {
    StringBuilder out = new StringBuilder("differing objects: ");
    java.util.Set<UUID> ids = new java.util.TreeSet<>(truth.keySet());
    ids.addAll(held.keySet());
    ids.removeIf(id -> java.util.Objects.equals(truth.get(id), held.get(id)));
    for (UUID id : ids) {
      out.append(id).append(" (owner's: ").append(truth.get(id)).append(", held: ").append(held.get(id)).append(") ");
      for (String name : topology.names) {
        out.append(name).append(' ').append(nodes.get(name).table(
            "entanglement_object where object_id = '" + id + "'")).append("; ");
      }
    }
    for (String name : topology.names) {
      out.append("positions at ").append(name).append(' ').append(nodes.get(name).table("entanglement_owner_position"))
          .append("; ");
    }
    return out.toString();
  }

  private TestNode listened(TestNode node) {
    node.entanglement().addRequestListener(event -> heard.put(event.requestKey(), event));
    return node;
  }

  private static final Throwable NOT_DONE = new Throwable("not done");
  /** Awaitility's matcher refuses null values, so a success is this marker. */
  private static final Throwable SUCCEEDED = new Throwable("succeeded");

  private static Throwable outcome(CompletableFuture<?> future) throws InterruptedException {
    if (!future.isDone()) {
      return NOT_DONE;
    }
    try {
      future.get();
      return SUCCEEDED;
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  private static <T> T pick(Random random, List<T> values) {
    return values.get(random.nextInt(values.size()));
  }
}
