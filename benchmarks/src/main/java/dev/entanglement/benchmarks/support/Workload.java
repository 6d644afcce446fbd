package dev.entanglement.benchmarks.support;

import dev.entanglement.benchmarks.model.BenchItem;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The application's side of every scenario, one thread: single-row transactions (a new
 * EntityManager, a transaction, one persist, or a find and three changed fields, and a commit)
 * and bulk transactions. Each method returns what it did so the caller turns it into a rate.
 */
public final class Workload {
  /** Gives every inserted row a distinct {@code seq} across the whole run. */
  private static final AtomicLong SEQ = new AtomicLong();

  private Workload() {}

  /** What a timed loop did: {@code count} operations in {@code nanos}. */
  public record Done(long count, long nanos) {
    public double perSecond() {
      return count / (nanos / 1e9);
    }
  }

  /** Single-row inserts (persist of a new UUID row) for {@code nanos}, as fast as one thread can. */
  public static Done insertFor(Node node, long nanos) {
    long start = System.nanoTime();
    long end = start + nanos;
    long count = 0;
    long now;
    do {
      BenchItem item = new BenchItem(UUID.randomUUID(), SEQ.incrementAndGet());
      node.inTransaction(em -> em.persist(item));
      count++;
      now = System.nanoTime();
    } while (now < end);
    return new Done(count, now - start);
  }

  /** Single-row updates (find by a random id, change three fields) for {@code nanos}. */
  public static Done updateFor(Node node, List<UUID> ids, long nanos, SplittableRandom random) {
    long start = System.nanoTime();
    long end = start + nanos;
    long count = 0;
    long now;
    do {
      UUID id = ids.get(random.nextInt(ids.size()));
      long n = SEQ.incrementAndGet();
      node.inTransaction(em -> em.find(BenchItem.class, id).touch(n));
      count++;
      now = System.nanoTime();
    } while (now < end);
    return new Done(count, now - start);
  }

  /** Transactions of {@code rowsPerTx} new rows for {@code nanos}; counts rows. */
  public static Done bulkInsertFor(Node node, int rowsPerTx, long nanos) {
    long start = System.nanoTime();
    long end = start + nanos;
    long rows = 0;
    long now;
    do {
      node.inTransaction(em -> {
        for (int i = 0; i < rowsPerTx; i++) {
          em.persist(new BenchItem(UUID.randomUUID(), SEQ.incrementAndGet()));
        }
      });
      rows += rowsPerTx;
      now = System.nanoTime();
    } while (now < end);
    return new Done(rows, now - start);
  }

  /** Inserts {@code rows} rows in transactions of 1000 (untimed set-up); returns their ids. */
  public static List<UUID> preload(Node node, int rows) {
    List<UUID> ids = new ArrayList<>(rows);
    for (int from = 0; from < rows; from += 1000) {
      int size = Math.min(1000, rows - from);
      node.inTransaction(em -> {
        for (int i = 0; i < size; i++) {
          BenchItem item = new BenchItem(UUID.randomUUID(), SEQ.incrementAndGet());
          em.persist(item);
          ids.add(item.id);
        }
      });
    }
    return ids;
  }
}
