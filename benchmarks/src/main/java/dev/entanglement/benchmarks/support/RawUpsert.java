package dev.entanglement.benchmarks.support;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * The receiving database's ceiling: raw JDBC batch upserts of new rows shaped like BenchItem
 * ({@code MERGE INTO ... KEY (id)} on H2), one connection, batches of {@code rowsPerTx} rows,
 * one commit per batch, as limits-measured.md measured it. Owns its connection; close it.
 */
public final class RawUpsert implements AutoCloseable {
  private final DbSettings db;
  private final Connection connection;
  private final PreparedStatement merge;
  private long seq;

  public RawUpsert(DbSettings db) throws SQLException {
    if (db.db() != Db.H2) {
      throw new IllegalArgumentException("the MERGE statement is H2's");
    }
    this.db = db;
    this.connection = db.connect();
    try (Statement s = connection.createStatement()) {
      s.execute("CREATE TABLE bench_raw (id UUID PRIMARY KEY, seq BIGINT, name VARCHAR(255), "
          + "quantity INT, price DOUBLE PRECISION, active BOOLEAN, note VARCHAR(255))");
    }
    connection.setAutoCommit(false);
    this.merge = connection.prepareStatement("MERGE INTO bench_raw (id, seq, name, quantity, price, active, note) "
        + "KEY (id) VALUES (?, ?, ?, ?, ?, ?, ?)");
  }

  /** Upserts batches of new rows for {@code nanos}; counts rows. */
  public Workload.Done upsertFor(int rowsPerTx, long nanos) throws SQLException {
    long start = System.nanoTime();
    long end = start + nanos;
    long rows = 0;
    long now;
    do {
      for (int i = 0; i < rowsPerTx; i++) {
        long n = ++seq;
        merge.setObject(1, UUID.randomUUID());
        merge.setLong(2, n);
        merge.setString(3, "item-" + n);
        merge.setInt(4, (int) (n % 1000));
        merge.setDouble(5, n * 0.01);
        merge.setBoolean(6, true);
        merge.setString(7, "benchmark row");
        merge.addBatch();
      }
      merge.executeBatch();
      connection.commit();
      rows += rowsPerTx;
      now = System.nanoTime();
    } while (now < end);
    return new Workload.Done(rows, now - start);
  }

  @Override
  public void close() throws SQLException {
    merge.close();
    connection.close();
    db.dispose();
  }
}
