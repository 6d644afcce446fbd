package dev.entanglement.sample;

import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/** What the demos share: waiting on a condition, a transaction, and printing a table. */
public final class Demos {
  /** How long a demo waits for anything. */
  public static final long WAIT_SECONDS = 30;

  private Demos() {}

  /** Polls a condition (Entanglement reports connections as status, not as futures). */
  public static void awaitUntil(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out waiting for " + what);
      }
      TimeUnit.MILLISECONDS.sleep(10);
    }
  }

  public static <T> T inTransaction(EntityManagerFactory factory, Function<EntityManager, T> work) {
    EntityManager em = factory.createEntityManager();
    try {
      em.getTransaction().begin();
      T result = work.apply(em);
      em.getTransaction().commit();
      return result;
    } finally {
      if (em.getTransaction().isActive()) {
        em.getTransaction().rollback();
      }
      em.close();
    }
  }

  /** Prints rows (the first is the header) as columns padded to their widest cell, then a blank line. */
  public static void printTable(PrintStream out, List<List<String>> rows) {
    int[] widths = new int[rows.get(0).size()];
    for (List<String> row : rows) {
      for (int i = 0; i < row.size(); i++) {
        widths[i] = Math.max(widths[i], row.get(i).length());
      }
    }
    for (List<String> row : rows) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < row.size(); i++) {
        line.append("  ").append(row.get(i)).append(" ".repeat(widths[i] - row.get(i).length()));
      }
      out.println(line.toString().stripTrailing());
    }
    out.println();
  }
}
