package dev.entanglement.sample.spring;

import dev.entanglement.hibernate.Entanglement;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

@Service
public class NoteService {
  private final NoteRepository notes;
  private final Entanglement entanglement;

  public NoteService(NoteRepository notes, Entanglement entanglement) {
    this.notes = notes;
    this.entanglement = entanglement;
  }

  @Transactional
  public Note create(String text) {
    return notes.save(new Note(text));
  }

  /**
   * Changes a note wherever its owner is. The update joins this method's transaction (which
   * holds the note's row lock): it is written at this commit, or sent to the owner after it.
   */
  @Transactional
  public CompletableFuture<Note> rename(UUID id, String text) {
    notes.lockById(id).orElseThrow();
    return entanglement.update(Note.class, id, note -> note.setText(text));
  }
}
