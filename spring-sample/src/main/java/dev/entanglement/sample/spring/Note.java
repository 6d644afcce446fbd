package dev.entanglement.sample.spring;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import java.util.UUID;

/** A note: replicated to every instance, changed by the instance that owns it. */
@Entity
@Entangled
public class Note {
  @Id
  private UUID id = UUID.randomUUID();
  private String text;

  protected Note() {}

  public Note(String text) {
    this.text = text;
  }

  public UUID getId() {
    return id;
  }

  public String getText() {
    return text;
  }

  public void setText(String text) {
    this.text = text;
  }
}
