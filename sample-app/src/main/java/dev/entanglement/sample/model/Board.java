package dev.entanglement.sample.model;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import java.util.UUID;

/** A board that tasks belong to; sent before its tasks (lower priority). */
@Entity
@Entangled(priority = -1)
public class Board {
  @Id @GeneratedValue(strategy = GenerationType.UUID) private UUID id;
  private String name;

  protected Board() {}

  public Board(String name) {
    this.name = name;
  }

  public UUID getId() {
    return id;
  }

  public String getName() {
    return name;
  }
}
