package dev.entanglement.sample.exercise;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;

/** A message from exercise staff to everyone. */
@Entity
@Entangled
public class Announcement {
  @Id private long id;
  private String text;

  protected Announcement() {}

  public Announcement(long id, String text) {
    this.id = id;
    this.text = text;
  }

  public long getId() { return id; }
  public String getText() { return text; }
}
