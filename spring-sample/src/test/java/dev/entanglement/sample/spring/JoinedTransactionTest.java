package dev.entanglement.sample.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.EntanglementException;
import java.util.concurrent.CompletableFuture;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

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
  @Autowired Entanglement entanglement;
  @Autowired PlatformTransactionManager transactions;

  @Test
  void updateInsideTransactionalMethodJoinsItsTransaction() throws Exception {
    UUID id = service.create("draft").getId();

    Note renamed = service.rename(id, "final").get(10, TimeUnit.SECONDS);

    assertThat(renamed.getText()).isEqualTo("final");
    assertThat(notes.findById(id).orElseThrow().getText()).isEqualTo("final");
  }

  @Test
  void aJoinedUpdateOfATransactionThatRollsBackFailsAndWritesNothing() {
    UUID id = service.create("kept").getId();

    CompletableFuture<Note> update = new TransactionTemplate(transactions).execute(status -> {
      CompletableFuture<Note> future = entanglement.update(Note.class, id, note -> note.setText("rolled back"));
      status.setRollbackOnly();
      return future;
    });

    assertThatThrownBy(() -> update.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(EntanglementException.class)
        .hasMessageContaining("rolled back: nothing of this call was written or sent");
    assertThat(notes.findById(id).orElseThrow().getText()).isEqualTo("kept");
  }

  @Test
  void transferInsideATransactionFailsAtOnceSayingWhy() {
    UUID id = service.create("mine").getId();

    CompletableFuture<Note> transfer = new TransactionTemplate(transactions)
        .execute(status -> entanglement.transfer(Note.class, id, "elsewhere"));

    assertThat(transfer).isCompletedExceptionally();
    assertThatThrownBy(transfer::join).hasCauseInstanceOf(EntanglementException.class)
        .hasMessageContaining("transfer(...) cannot run inside the caller's transaction (node 'joined')");
  }

  @Test
  void anUpdateInsideAReadOnlyTransactionFailsSayingItWouldNotBeWritten() {
    UUID id = service.create("read only").getId();
    TransactionTemplate readOnly = new TransactionTemplate(transactions);
    readOnly.setReadOnly(true);

    CompletableFuture<Note> update = readOnly.execute(status ->
        entanglement.update(Note.class, id, note -> note.setText("lost")));

    assertThatThrownBy(update::join).hasCauseInstanceOf(EntanglementException.class)
        .hasMessageContaining("is read-only (flush mode MANUAL)");
    assertThat(notes.findById(id).orElseThrow().getText()).isEqualTo("read only");
  }
}
