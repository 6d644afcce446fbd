package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.testing.BoundedPool;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Three nodes on PostgreSQL (and again on MariaDB), each with an ordinary connection pool of 5, in a full mesh, under
 * a concurrent random load from all three (inserts, updates and deletes of each node's own
 * objects, and updates of the others' objects, forwarded to their owners): they converge, with
 * nothing parked and nothing rejected, the plugin's threads never hold more than
 * {@code entanglement.db.connections} (3) at once, and the application's own transactions never
 * find the pool empty because of the plugin. The seed is printed; rerun one with
 * {@code -Dentanglement.pool.seed=N}.
 */
class SmallPoolIntegrationTest {
  private static final String[] NAMES = {"a", "b", "c"};
  private static final int POOL = 5;
  /** Application threads writing at once per node: the pool's other connections are the plugin's. */
  private static final int WRITERS = 2;
  private static final int OPERATIONS = 60;

  private final Map<String, TestNode> nodes = new LinkedHashMap<>();
  private final Map<String, BoundedPool> pools = new LinkedHashMap<>();
  private ExecutorService writers;

  static Stream<Arguments> seeds() {
    String fixed = System.getProperty("entanglement.pool.seed");
    long seed = fixed != null ? Long.parseLong(fixed) : System.nanoTime();
    return Stream.of(Arguments.of(Database.POSTGRESQL, seed), Arguments.of(Database.MARIADB, seed));
  }

  @AfterEach
  void close() {
    if (writers != null) {
      writers.shutdownNow();
    }
    nodes.values().forEach(TestNode::close);
  }

  @ParameterizedTest(name = "{0} seed {1}")
  @MethodSource("seeds")
  void threeNodesWithAPoolOfFive_underConcurrentLoad_converge(Database database, long seed) throws Exception {
    System.out.println("SmallPoolIntegrationTest " + database + " seed=" + seed);
    String run = UUID.randomUUID().toString();
    for (int i = 0; i < NAMES.length; i++) {
      String name = NAMES[i];
      TestNode.Builder builder = TestNode.builder(name, database, Item.class)
          .listenInProcess("pool-" + name + "-" + run);
      pools.put(name, builder.boundedPool(POOL));
      List<String> peers = new ArrayList<>();
      for (int j = 0; j < i; j++) {
        peers.add("inprocess:pool-" + NAMES[j] + "-" + run);
      }
      if (!peers.isEmpty()) {
        builder.peers(String.join(",", peers));
      }
      nodes.put(name, builder.start());
    }
    for (String name : NAMES) {
      for (String other : NAMES) {
        if (!other.equals(name)) {
          nodes.get(name).awaitConnected(other);
        }
      }
    }

    AtomicInteger applicationFailures = new AtomicInteger();
    List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    writers = Executors.newFixedThreadPool(NAMES.length * WRITERS);
    List<Future<?>> running = new ArrayList<>();
    for (int i = 0; i < NAMES.length; i++) {
      for (int w = 0; w < WRITERS; w++) {
        String name = NAMES[i];
        String writer = name + w;
        long writerSeed = seed * 31 + i * WRITERS + w;
        running.add(writers.submit(() -> write(nodes.get(name), writer, new Random(writerSeed), applicationFailures,
            failures)));
      }
    }
    for (Future<?> writer : running) {
      writer.get(5, TimeUnit.MINUTES);
    }

    // two rounds: a forwarded update's result travels one more hop
    for (int round = 0; round < 2; round++) {
      for (String name : NAMES) {
        for (String other : NAMES) {
          if (!other.equals(name)) {
            CatchUpReport report = nodes.get(name).entanglement().caughtUp(other).get(60, TimeUnit.SECONDS);
            assertThat(report.parked()).as("parked at %s of %s's changes (seed %d)", other, name, seed).isEmpty();
          }
        }
      }
    }
    List<String> expected = nodes.get("a").table("Item");
    for (String name : NAMES) {
      TestNode node = nodes.get(name);
      org.awaitility.Awaitility.await().alias(name + " holds every owner's state (seed " + seed + ")")
          .atMost(Duration.ofSeconds(30)).until(() -> node.table("Item").equals(nodes.get("a").table("Item")));
      assertThat(node.entanglement().parkedChanges()).as("parked at %s (seed %d)", name, seed).isZero();
      for (String other : NAMES) {
        if (!other.equals(name)) {
          assertThat(node.status(other).changesRejectedHere()).as("rejected at %s from %s (seed %d)", name, other, seed)
              .isZero();
        }
      }
    }
    assertThat(expected).isNotEmpty();
    for (String name : NAMES) {
      BoundedPool pool = pools.get(name);
      System.out.printf("SmallPoolIntegrationTest %s: at most %d connections at once, %d by the plugin's threads; "
          + "empty pool %d times%n", name, pool.peak(), pool.pluginPeak(), pool.refused());
      pool.refusals().forEach(r -> System.out.println("  " + r));
    }
    for (String name : NAMES) {
      assertThat(pools.get(name).pluginPeak()).as("connections held at once by %s's plugin threads, within "
          + "entanglement.db.connections (seed %d)", name, seed).isLessThanOrEqualTo(3);
    }
    assertThat(failures).as("the application's own transactions that failed (seed %d)", seed).isEmpty();
  }

  /** One application thread: inserts, updates and deletes its own items, and updates the others'. */
  private static void write(TestNode node, String writer, Random random, AtomicInteger applicationFailures,
      List<String> failures) {
    List<UUID> own = new ArrayList<>();
    for (int op = 0; op < OPERATIONS; op++) {
      int kind = own.isEmpty() ? 0 : random.nextInt(10);
      try {
        if (kind < 4) {
          Item item = new Item(writer + "-" + op, "item " + op, random.nextInt(1000));
          node.inTransaction(em -> em.persist(item));
          own.add(item.getId());
        } else if (kind < 7) {
          UUID id = own.get(random.nextInt(own.size()));
          int quantity = random.nextInt(1000);
          node.inTransaction(em -> em.find(Item.class, id).setQuantity(quantity));
        } else if (kind < 8) {
          UUID id = own.remove(random.nextInt(own.size()));
          node.inTransaction(em -> em.remove(em.find(Item.class, id)));
        } else {
          // another node's object: the write becomes an update request to its owner
          String name = "forwarded by " + writer + " " + op;
          node.inTransaction(em -> {
            List<Item> others = em.createQuery("from Item where code not like :mine", Item.class)
                .setParameter("mine", writer.charAt(0) + "%").getResultList();
            if (!others.isEmpty()) {
              others.get(random.nextInt(others.size())).setName(name);
            }
          });
        }
      } catch (RuntimeException e) {
        if (conflict(e)) {
          continue; // the owner applied a forwarded update of this object meanwhile: as two writers would
        }
        applicationFailures.incrementAndGet();
        failures.add(writer + " op " + op + ": " + e);
      }
    }
  }

  private static boolean conflict(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof jakarta.persistence.OptimisticLockException || t instanceof org.hibernate.StaleStateException) {
        return true;
      }
    }
    return false;
  }
}
