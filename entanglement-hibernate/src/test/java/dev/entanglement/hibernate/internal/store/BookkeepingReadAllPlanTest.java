package dev.entanglement.hibernate.internal.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import org.hibernate.dialect.H2Dialect;
import org.junit.jupiter.api.Test;

/**
 * A received batch's bookkeeping rows are read by key, not by scanning: on H2 a list of ids with
 * the entity name apart was evaluated row by row over the whole entity (the throughput benchmark's
 * sink fell further behind with every round and never caught up). Checked on H2's own plan.
 */
class BookkeepingReadAllPlanTest {
  @Test
  void onH2_theBatchReadLooksUpEveryWholeKey() throws Exception {
    try (TestNode node = TestNode.builder("plan", Database.H2, Item.class).start()) {
      Bookkeeping bookkeeping = Bookkeeping.forDialect(new H2Dialect());
      try (TestNode.HeldConnection held = node.connection();
          PreparedStatement explain = held.jdbc().prepareStatement("EXPLAIN " + bookkeeping.readAllQuery(3))) {
        for (int k = 1; k <= explain.getParameterMetaData().getParameterCount(); k++) {
          explain.setString(k, "Item"); // the plan does not depend on the values
        }
        try (ResultSet plan = explain.executeQuery()) {
          plan.next();
          // the index condition names the whole key list, not the entity name alone
          assertThat(plan.getString(1)).containsPattern("PRIMARY_KEY_\\w*:\\s+IN\\(ROW");
        }
      }
    }
  }
}
