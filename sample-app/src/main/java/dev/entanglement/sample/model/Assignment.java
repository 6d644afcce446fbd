package dev.entanglement.sample.model;

import jakarta.persistence.Embeddable;
import java.time.LocalDate;

/** Who works on a task and by when: an embeddable, replicated as part of its task. */
@Embeddable
public class Assignment {
  private String person;
  private LocalDate due;

  protected Assignment() {}

  public Assignment(String person, LocalDate due) {
    this.person = person;
    this.due = due;
  }

  public String getPerson() {
    return person;
  }

  public LocalDate getDue() {
    return due;
  }
}
