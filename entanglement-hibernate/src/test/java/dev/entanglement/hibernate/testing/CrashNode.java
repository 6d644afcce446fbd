package dev.entanglement.hibernate.testing;

import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.testing.model.Item;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import org.hibernate.jpa.HibernatePersistenceConfiguration;

/**
 * A node in a process of its own, for the crash tests: it is killed with SIGKILL and started
 * again on the same database. With the owner's load, it commits single-row inserts, updates,
 * deletes and two-row transactions of its own objects as fast as it can up to a pace, and after
 * each commit has returned appends {@code id quantity} of every object it wrote to a log with
 * fsync: what the application saw committed. Quantities only grow (each write takes the next
 * number), so the state of an object in the database is never below what the log says was
 * committed; it may be above when the process was killed between a commit and its log line. A
 * delete is logged twice: {@code id D?} (with fsync) before its commit may happen and
 * {@code id D} after it returned, so an object missing at the owner is either logged as deleted
 * or was about to be. With the requester's load, it changes the names of objects it received
 * from their owner (each such commit becomes an update request forwarded to the owner) and logs
 * nothing: the owner decides.
 *
 * <p>With the member's load (one of several application instances of a node), it commits the
 * owner's load on the objects it created itself, and now and then, in the same transactions,
 * renames or deletes an object another node owns (each becomes an update or removal request
 * forwarded to that owner; not logged). With a tag, the objects it creates get codes
 * {@code tag-uuid} and only those are its own to update and delete (several writers with their
 * own quantity counters on one database); another node's objects are those whose code does not
 * start with this node's name, so peers' tags must not either. Once a file named like the log
 * plus {@code .stop} exists, the load stops and the process prints {@code STOPPED}, serving on.
 *
 * <p>Arguments: name, JDBC URL, user, password, listen port (0: none), peer address (-: none),
 * milliseconds between load transactions (0: no load), log file, seed, load ({@code owner},
 * {@code requester} or {@code member}; optional, {@code owner} by default), tag (optional).
 */
public final class CrashNode {
  private CrashNode() {}

  public static void main(String[] args) throws Exception {
    String name = args[0];
    int port = Integer.parseInt(args[4]);
    String peer = args[5];
    long pace = Long.parseLong(args[6]);
    Path log = Path.of(args[7]);
    Random random = new Random(Long.parseLong(args[8]));
    HibernatePersistenceConfiguration configuration = new HibernatePersistenceConfiguration(name)
        .managedClass(Item.class)
        .property("jakarta.persistence.jdbc.url", args[1])
        .property("jakarta.persistence.jdbc.user", args[2])
        .property("jakarta.persistence.jdbc.password", args[3])
        .property("hibernate.hbm2ddl.auto", "update")
        // with a tag (several writers: members, and an owner that serves their requests) a node
        // stamps, forwards or answers on top of its load: more connections, else the pool runs dry
        .property("hibernate.connection.pool_size", args.length > 10 ? "8" : "4")
        .property(EntanglementSettings.NODE_NAME, name)
        .property(EntanglementSettings.PLAINTEXT, "true")
        .property(EntanglementSettings.HEARTBEAT_INTERVAL_MS, "200")
        .property(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, "1000")
        .property(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "20")
        .property(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "300");
    if (port > 0) {
      configuration.property(EntanglementSettings.LISTEN, "127.0.0.1:" + port);
    }
    if (!peer.equals("-")) {
      configuration.property(EntanglementSettings.PEERS, peer);
    }
    EntityManagerFactory factory = configuration.createEntityManagerFactory();
    Runtime.getRuntime().addShutdownHook(new Thread(factory::close));
    System.out.println("READY");
    System.out.flush();
    if (pace <= 0) {
      new CountDownLatch(1).await(); // until killed
      return;
    }
    if (args.length > 9 && args[9].equals("requester")) {
      requestChanges(factory, pace, random);
      return;
    }
    boolean member = args.length > 9 && args[9].equals("member");
    String tag = args.length > 10 ? args[10] + "-" : "";
    List<UUID> ids = new ArrayList<>();
    EntityManager reader = factory.createEntityManager();
    reader.createQuery("select i.id from Item i where i.code like :own", UUID.class).setParameter("own", tag + "%")
        .getResultList().forEach(ids::add);
    // every write gets a quantity above all before it, so a later state is always the larger one
    Integer highest = reader.createQuery("select max(i.quantity) from Item i where i.code like :own", Integer.class)
        .setParameter("own", tag + "%").getSingleResult();
    int next = highest == null ? 1 : highest + 1;
    reader.close();
    Path stop = Path.of(log + ".stop");
    try (FileChannel out = FileChannel.open(log, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.APPEND)) {
      for (int n = 0; !Files.exists(stop); n++) {
        StringBuilder committed = new StringBuilder();
        List<UUID> created = new ArrayList<>();
        List<UUID> deleted = new ArrayList<>();
        EntityManager em = factory.createEntityManager();
        try {
          em.getTransaction().begin();
          int rows = random.nextInt(10) == 0 ? 2 : 1; // now and then a transaction of two rows
          if (member && random.nextInt(3) == 0) {
            forward(em, name, tag, random, n);
          }
          for (int i = 0; i < rows; i++) {
            int quantity = next++;
            if (ids.size() < 20 || random.nextInt(3) == 0) {
              Item item = new Item(tag + UUID.randomUUID(), "crash item", quantity);
              em.persist(item);
              em.flush();
              created.add(item.getId());
              committed.append(item.getId()).append(' ').append(quantity).append('\n');
            } else if (ids.size() > 30 && random.nextInt(8) == 0 && deleted.isEmpty()) {
              UUID id = ids.get(random.nextInt(ids.size()));
              em.remove(em.find(Item.class, id));
              deleted.add(id);
              committed.append(id).append(" D\n");
              write(out, id + " D?\n"); // before the commit can happen
            } else {
              UUID id = ids.get(random.nextInt(ids.size()));
              if (deleted.contains(id)) {
                continue;
              }
              Item item = em.find(Item.class, id);
              item.setQuantity(quantity);
              committed.append(id).append(' ').append(quantity).append('\n');
            }
          }
          em.getTransaction().commit();
          ids.addAll(created);
          ids.removeAll(deleted);
        } catch (RuntimeException e) {
          if (em.getTransaction().isActive()) {
            em.getTransaction().rollback();
          }
          committed.setLength(0); // not committed: nothing to log
        } finally {
          em.close();
        }
        if (committed.length() > 0) {
          write(out, committed.toString());
        }
        Thread.sleep(pace);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    System.out.println("STOPPED");
    System.out.flush();
    new CountDownLatch(1).await(); // serving on, until killed
  }

  /** Renames (mostly) or deletes an object another node owns: a request forwarded to its owner. */
  private static void forward(EntityManager em, String node, String tag, Random random, int n) {
    List<UUID> theirs = em.createQuery("select i.id from Item i where i.code not like :node", UUID.class)
        .setParameter("node", node + "%").setMaxResults(200).getResultList();
    if (theirs.isEmpty()) {
      return;
    }
    Item item = em.find(Item.class, theirs.get(random.nextInt(theirs.size())));
    if (random.nextInt(5) == 0) {
      em.remove(item);
    } else {
      item.setName("requested by " + tag + n);
    }
    em.flush();
  }

  private static void write(FileChannel out, String lines) throws IOException {
    out.write(ByteBuffer.wrap(lines.getBytes(StandardCharsets.UTF_8)));
    out.force(true);
  }

  /** Renames objects this node received from their owner: each commit is an update request. */
  private static void requestChanges(EntityManagerFactory factory, long pace, Random random) throws InterruptedException {
    for (int n = 0; ; n++) {
      EntityManager em = factory.createEntityManager();
      try {
        List<UUID> ids = em.createQuery("select i.id from Item i", UUID.class).setMaxResults(200).getResultList();
        if (!ids.isEmpty()) {
          em.getTransaction().begin();
          Item item = em.find(Item.class, ids.get(random.nextInt(ids.size())));
          if (item != null) {
            item.setName("requested " + n);
          }
          em.getTransaction().commit();
        }
      } catch (RuntimeException e) {
        if (em.getTransaction().isActive()) {
          em.getTransaction().rollback();
        }
      } finally {
        em.close();
      }
      Thread.sleep(pace);
    }
  }
}
