package dev.entanglement.hibernate.internal.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.hibernate.Session;
import org.hibernate.engine.spi.SessionFactoryImplementor;
import org.junit.jupiter.api.Test;

/**
 * The plugin's tables and the reading of failures on a real MariaDB server (Debian's mariadbd,
 * see {@code testing/MariaDbServer}): what differs there from H2 and PostgreSQL.
 */
class MariaDbStoreTest {

  @Test
  void idsThatDifferOnlyInCase_areTwoObjects() {
    // MariaDB's default collations are case-insensitive: the plugin's tables use a binary one
    try (TestNode node = TestNode.builder("a", Database.MARIADB, Item.class).start()) {
      Bookkeeping bookkeeping = Bookkeeping.forDialect(
          node.factory().unwrap(SessionFactoryImplementor.class).getJdbcServices().getDialect());
      assertThat(bookkeeping.vendor()).isEqualTo(Vendor.MARIADB);
      node.inTransaction(em -> em.unwrap(Session.class).doWork(c -> bookkeeping.write(c, List.of(
          new Bookkeeping.ObjectRow("Step", "abc", "a", 1, false),
          new Bookkeeping.ObjectRow("Step", "ABC", "a", 2, false),
          new Bookkeeping.ObjectRow("step", "abc", "a", 3, false)))));
      Map<String, Bookkeeping.ObjectRow> read = node.read(em -> em.unwrap(Session.class).doReturningWork(
          c -> bookkeeping.readAll(c, "Step", List.of("abc", "ABC"))));
      assertThat(read).containsOnlyKeys("abc", "ABC");
      assertThat(read.get("abc").serial()).isEqualTo(1);
      assertThat(read.get("ABC").serial()).isEqualTo(2);
      long lowerCaseEntity = node.read(em -> em.unwrap(Session.class).doReturningWork(
          c -> bookkeeping.read(c, "step", "abc").serial()));
      assertThat(lowerCaseEntity).isEqualTo(3);
    }
  }

  @Test
  void aLockWaitTimeoutAndADeadlock_areTransient_aDuplicateKey_isAUniqueViolationAndFinal() throws Exception {
    String url = (String) Database.MARIADB.freshDatabase("errors").get("jakarta.persistence.jdbc.url");
    ExecutorService other = Executors.newSingleThreadExecutor();
    try (Connection a = DriverManager.getConnection(url, "root", "");
        Connection b = DriverManager.getConnection(url, "root", "");
        Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
      sa.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB");
      sa.execute("INSERT INTO t VALUES (1, 0), (2, 0)");
      a.setAutoCommit(false);
      b.setAutoCommit(false);

      // error 1205 with SQLState HY000: nothing in the state says it is transient
      sb.execute("SET SESSION innodb_lock_wait_timeout = 1");
      sa.executeUpdate("UPDATE t SET v = 1 WHERE id = 1");
      SQLException lockWait = catchThrowableOfType(SQLException.class,
          () -> sb.executeUpdate("UPDATE t SET v = 2 WHERE id = 1"));
      assertThat(lockWait.getErrorCode()).isEqualTo(1205);
      assertThat(SqlErrors.isTransient(lockWait)).as(lockWait.getMessage()).isTrue();
      a.rollback();
      b.rollback();

      // error 1213: a and b each hold a row the other wants
      sa.executeUpdate("UPDATE t SET v = 1 WHERE id = 1");
      sb.execute("SET SESSION innodb_lock_wait_timeout = 30");
      sb.executeUpdate("UPDATE t SET v = 2 WHERE id = 2");
      Future<Integer> aWaits = other.submit(() -> sa.executeUpdate("UPDATE t SET v = 1 WHERE id = 2"));
      SQLException deadlock = null;
      try {
        sb.executeUpdate("UPDATE t SET v = 2 WHERE id = 1");
      } catch (SQLException e) {
        deadlock = e;
        b.rollback();
      }
      try {
        aWaits.get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        deadlock = (SQLException) e.getCause(); // the server chose a as the victim
      }
      a.rollback();
      b.rollback();
      assertThat((Throwable) deadlock).as("one of the two is the deadlock's victim").isNotNull();
      assertThat(deadlock.getErrorCode()).isEqualTo(1213);
      assertThat(SqlErrors.isTransient(deadlock)).as(deadlock.getMessage()).isTrue();

      // error 1062 with SQLState 23000: the data's fault, said by no 23505
      SQLException duplicate = catchThrowableOfType(SQLException.class,
          () -> sb.executeUpdate("INSERT INTO t VALUES (1, 5)"));
      assertThat(duplicate.getErrorCode()).isEqualTo(1062);
      assertThat(SqlErrors.isUniqueViolation(duplicate)).as(duplicate.getMessage()).isTrue();
      assertThat(SqlErrors.isTransient(duplicate)).as(duplicate.getMessage()).isFalse();
    } finally {
      other.shutdownNow();
    }
  }
}
