package dev.entanglement.sample.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.annotation.DirtiesContext;

/**
 * {@code Entanglement.update()} inside a {@code @Transactional} method that holds the object's
 * row lock (SELECT ... FOR UPDATE) on PostgreSQL: it must join the caller's transaction. Opening
 * a second one (as without the starter's CallerTransactions) waits on the caller's lock until
 * PostgreSQL's lock_timeout (5 s here) fails it.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE, properties = {
    "entanglement.node.name=joined", "entanglement.listen=", "entanglement.peers="})
@DirtiesContext // closed before the JVM's embedded PostgreSQL stops
class JoinedTransactionTest {
  @DynamicPropertySource
  static void database(DynamicPropertyRegistry registry) {
    SampleDatabases.fresh("joined").forEach((key, value) -> registry.add(key, () -> value));
  }

  @Autowired NoteService service;
  @Autowired NoteRepository notes;

  @Test
  void updateInsideTransactionalMethodJoinsItsTransaction() throws Exception {
    UUID id = service.create("draft").getId();

    Note renamed = service.rename(id, "final").get(10, TimeUnit.SECONDS);

    assertThat(renamed.getText()).isEqualTo("final");
    assertThat(notes.findById(id).orElseThrow().getText()).isEqualTo("final");
  }
}
