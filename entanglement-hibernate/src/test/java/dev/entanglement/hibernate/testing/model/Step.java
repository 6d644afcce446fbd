package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;

/** A "send every change" entity: peers must see each committed state, in order. */
@Entity
@Entangled(coalesce = false)
public class Step {
  @Id private String id;
  private int amount;

  protected Step() {}

  public Step(String id, int amount) {
    this.id = id;
    this.amount = amount;
  }

  public String getId() { return id; }
  public int getAmount() { return amount; }
  public void setAmount(int amount) { this.amount = amount; }
}
