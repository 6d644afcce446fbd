package dev.entanglement.benchmarks.model;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import java.util.UUID;

/**
 * The measured entity: an application-assigned UUID and six fields, as in limits-measured.md, so
 * the plugin-off figures are comparable with the Hibernate ceilings measured there. The same class
 * serves the plugin-off persistence unit: without {@code entanglement.node.name} the annotation
 * is inert.
 */
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

  /** The update workload: three fields change, as in limits-measured.md. */
  public void touch(long n) {
    this.quantity = (int) n;
    this.price = n * 0.5;
    this.name = "updated-" + n;
  }
}
