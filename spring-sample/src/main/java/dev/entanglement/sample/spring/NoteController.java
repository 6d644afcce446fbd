package dev.entanglement.sample.spring;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/** GET /notes, POST /notes (a text body), PUT /notes/{id} (a text body). */
@RestController
public class NoteController {
  private final NoteRepository notes;
  private final NoteService service;

  public NoteController(NoteRepository notes, NoteService service) {
    this.notes = notes;
    this.service = service;
  }

  @GetMapping("/notes")
  public List<NoteView> list() {
    return notes.findAll().stream().map(NoteView::of).toList();
  }

  @PostMapping("/notes")
  public NoteView create(@RequestBody String text) {
    return NoteView.of(service.create(text));
  }

  @PutMapping("/notes/{id}")
  public CompletableFuture<NoteView> rename(@PathVariable UUID id, @RequestBody String text) {
    return service.rename(id, text).thenApply(NoteView::of);
  }

  public record NoteView(UUID id, String text) {
    static NoteView of(Note note) {
      return new NoteView(note.getId(), note.getText());
    }
  }
}
