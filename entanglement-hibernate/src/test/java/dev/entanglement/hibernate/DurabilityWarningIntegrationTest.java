package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A node on an H2 file database that may lose commits after they returned says so at boot. */
class DurabilityWarningIntegrationTest {
  @TempDir
  Path directory;

  @Test
  void h2FileDatabaseWithAWriteDelay_warnsAtBootNamingTheFix() {
    try (LogCapture logs = LogCapture.start();
        TestNode node = TestNode.builder("d1", Database.H2, Item.class)
            .set("jakarta.persistence.jdbc.url", "jdbc:h2:file:" + directory.resolve("delayed")).start()) {
      assertThat(logs.warnings("Entanglement node 'd1'", "WRITE_DELAY=500", "Add ;WRITE_DELAY=0 to the JDBC URL"))
          .hasSize(1);
    }
  }

  @Test
  void h2FileDatabaseWithoutWriteDelay_andInMemoryDatabases_doNotWarn() {
    try (LogCapture logs = LogCapture.start();
        TestNode durable = TestNode.builder("d2", Database.H2, Item.class)
            .set("jakarta.persistence.jdbc.url", "jdbc:h2:file:" + directory.resolve("durable") + ";WRITE_DELAY=0").start();
        TestNode memory = TestNode.builder("d3", Database.H2, Item.class).start()) {
      assertThat(logs.warnings("WRITE_DELAY")).isEmpty();
    }
  }
}
