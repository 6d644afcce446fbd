package dev.entanglement.sample.model;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.annotations.NotEntangled;
import jakarta.persistence.Embedded;
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

/**
 * A task on a board. Everything is replicated (the embedded assignment, the reference to the
 * board, the version) except the note marked {@link NotEntangled}, which stays on the node that
 * wrote it.
 */
@Entity
@Entangled
public class Task {
  /** Where a task stands. */
  public enum Status { TODO, DOING, DONE }

  // ids must be unique across nodes: UUIDs generated where the task is created
  @Id @GeneratedValue(strategy = GenerationType.UUID) private UUID id;
  private String title;
  @Enumerated(EnumType.STRING) private Status status = Status.TODO;
  @Embedded private Assignment assignment;
  @ManyToOne(fetch = FetchType.LAZY) private Board board;
  @NotEntangled private String localNote;
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

  /** Null when nobody is assigned. */
  public Assignment getAssignment() {
    return assignment;
  }

  public void setAssignment(Assignment assignment) {
    this.assignment = assignment;
  }

  /** Null for a task without a board. */
  public Board getBoard() {
    return board;
  }

  /** A note for this node only: never sent to peers, never overwritten by them. */
  public String getLocalNote() {
    return localNote;
  }

  public void setLocalNote(String localNote) {
    this.localNote = localNote;
  }

  public long getVersion() {
    return version;
  }
}
