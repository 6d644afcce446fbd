package dev.entanglement.sample.model;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.annotations.NotEntangled;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.FetchType;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.Version;
import java.util.UUID;

/** A task on a board: replicated, except for a note that stays on the node that wrote it. */
@Entity
@Entangled
public class Task {
  /** Where a task stands. */
  public enum Status { TODO, DOING, DONE }

  @Id @GeneratedValue(strategy = GenerationType.UUID) private UUID id;
  private String title;
  @Enumerated(EnumType.STRING) private Status status = Status.TODO;
  @ManyToOne(fetch = FetchType.LAZY) private Board board;
  @NotEntangled private String privateNote;
  @Version private long version;

  protected Task() {}

  public Task(Board board, String title) {
    this.board = board;
    this.title = title;
  }

  public UUID getId() {
    return id;
  }

  public String getTitle() {
    return title;
  }

  public void setTitle(String title) {
    this.title = title;
  }

  public Status getStatus() {
    return status;
  }

  public void setStatus(Status status) {
    this.status = status;
  }

  public void setPrivateNote(String privateNote) {
    this.privateNote = privateNote;
  }

  public long getVersion() {
    return version;
  }
}
