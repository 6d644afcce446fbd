package dev.entanglement.benchmarks;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import java.util.UUID;

/** The measured entity: an application-assigned UUID and six fields, as in limits-measured.md. */
@Entity
@Entangled
public class BenchItem {
  @Id public UUID id;
  public long seq;
  public String name;
  public int quantity;
  public double price;
  public boolean active;
  public String note;

  public BenchItem() {}

  public BenchItem(UUID id, long seq) {
    this.id = id;
    this.seq = seq;
    this.name = "item-" + seq;
    this.quantity = (int) (seq % 1000);
    this.price = seq * 0.01;
    this.active = true;
    this.note = "benchmark row";
  }
}
