package dev.entanglement.hibernate.internal.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.entanglement.hibernate.EntanglementSettings;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.hibernate.exception.JDBCConnectionException;
import org.junit.jupiter.api.Test;

/** The rules of the plugin's share of the pool; the whole nodes' use of it is in SmallPoolIntegrationTest. */
class ConnectionBudgetTest {
  private final ConnectionBudget budget = new ConnectionBudget(3, Duration.ofMillis(100));

  /** Each entry on a thread of its own: a pooled thread could still hold a permit and enter for free. */
  private static <T> CompletableFuture<T> onNewThread(java.util.function.Supplier<T> work) {
    CompletableFuture<T> result = new CompletableFuture<>();
    new Thread(() -> {
      try {
        result.complete(work.get());
      } catch (RuntimeException e) {
        result.completeExceptionally(e);
      }
    }).start();
    return result;
  }

  @Test
  void theSharedPartIsTheBudgetLessTheLeasesOne_andAFullBudgetFailsAsATransientFailureNamingTheSetting() {
    try (var first = budget.enter()) {
      try (var second = onNewThread(budget::enter).join()) {
        CompletableFuture<ConnectionBudget.Permit> third = onNewThread(budget::enter);
        assertThatThrownBy(third::join).cause().isInstanceOf(JDBCConnectionException.class)
            .hasMessageContaining("all of the plugin's 3 connections (shared)")
            .hasMessageContaining(EntanglementSettings.DB_CONNECTIONS)
            .satisfies(e -> assertThat(SqlErrors.isTransient(e)).isTrue());
      }
    }
  }

  @Test
  void theLeaseNeverWaitsBehindOtherWork() throws Exception {
    CountDownLatch holding = new CountDownLatch(2);
    CountDownLatch done = new CountDownLatch(1);
    for (int i = 0; i < 2; i++) {
      new Thread(() -> {
        try (var permit = budget.enter()) {
          holding.countDown();
          done.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }).start();
    }
    assertThat(holding.await(10, TimeUnit.SECONDS)).isTrue();
    try (var lease = onNewThread(budget::enterForLease).join()) {
      assertThat(lease).isNotNull();
    } finally {
      done.countDown();
    }
  }

  @Test
  void aThreadThatHoldsAPermitEntersAgainWithoutWaiting_andLeavesItsPermitOnlyWithTheOuterEntry() {
    try (var other = onNewThread(budget::enter).join()) {
      try (var outer = budget.enter()) {
        try (var nested = budget.enter(); var nestedAgain = budget.enter()) {
          assertThat(nestedAgain).isNotNull();
        }
        // still held by this thread: a third thread finds the shared part full
        assertThatThrownBy(() -> onNewThread(budget::enter).join())
            .cause().isInstanceOf(JDBCConnectionException.class);
      }
      try (var afterwards = onNewThread(budget::enter).join()) {
        assertThat(afterwards).isNotNull();
      }
    }
  }
}
