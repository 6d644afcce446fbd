package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.FailingDataSource;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Capture fails closed: when the plugin cannot write its bookkeeping, the application's commit
 * fails (nothing is committed that peers would never receive), unless the application chose
 * {@code entanglement.capture.on_failure=log}.
 */
class CaptureFailureIntegrationTest {
  /** The statement that writes the bookkeeping of captured changes, on H2 and PostgreSQL. */
  private static final String BOOKKEEPING_WRITE = "INTO entanglement_object (";

  private TestNode a;
  private TestNode b;

  @AfterEach
  void close() {
    for (TestNode node : new TestNode[] {b, a}) {
      if (node != null) {
        node.close();
      }
    }
  }

  private FailingDataSource start(Database database, String onFailure) {
    String address = "capture-" + UUID.randomUUID();
    TestNode.Builder builder = TestNode.builder("a", database, Item.class).listenInProcess(address);
    if (onFailure != null) {
      builder.set(EntanglementSettings.CAPTURE_ON_FAILURE, onFailure);
    }
    FailingDataSource dataSource = builder.failingDatabase();
    a = builder.start();
    b = TestNode.builder("b", database, Item.class).peers("inprocess:" + address).start();
    b.awaitConnected("a");
    return dataSource;
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void failedBookkeepingWrite_failsTheApplicationsCommit_byDefault(Database database) throws Exception {
    FailingDataSource dataSource = start(database, null);
    FailingDataSource.Fault fault = dataSource.fail(BOOKKEEPING_WRITE, "XX000", 1);
    Item lost = new Item("LOST", "would never reach b", 1);

    assertThatThrownBy(() -> a.inTransaction(em -> em.persist(lost)))
        .rootCause().hasMessageContaining("injected failure");
    assertThat(a.all(Item.class)).isEmpty(); // rolled back, not committed behind the peers' back
    a.inTransaction(em -> em.persist(new Item("LOST", "retried after the fault", 1)));
    assertThat(fault.fired()).isEqualTo(1);
    a.entanglement().caughtUp("b").get(20, TimeUnit.SECONDS);
    assertThat(b.table("Item")).isEqualTo(a.table("Item")).hasSize(1);
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void failedBookkeepingWrite_namesTheSettingInTheException(Database database) {
    FailingDataSource dataSource = start(database, "fail");
    dataSource.fail(BOOKKEEPING_WRITE, "XX000", 1);
    assertThatThrownBy(() -> a.inTransaction(em -> em.persist(new Item("X", "x", 1))))
        .satisfies(e -> assertThat(causes(e)).anySatisfy(cause -> assertThat(cause)
            .isInstanceOf(EntanglementException.class)
            .hasMessageContaining("entanglement.capture.on_failure=fail")));
    assertThat(a.all(Item.class)).isEmpty();
  }

  @ParameterizedTest
  @EnumSource(Database.class)
  void onFailureLog_commitsAnyway(Database database) throws Exception {
    FailingDataSource dataSource = start(database, "log");
    dataSource.fail(BOOKKEEPING_WRITE, "XX000", 1);
    a.inTransaction(em -> em.persist(new Item("KEPT", "committed without bookkeeping", 1)));
    assertThat(a.all(Item.class)).extracting(Item::getCode).containsExactly("KEPT");
  }

  private static List<Throwable> causes(Throwable e) {
    List<Throwable> causes = new ArrayList<>();
    for (Throwable t = e; t != null; t = t.getCause()) {
      causes.add(t);
    }
    return causes;
  }
}
