package dev.entanglement.benchmarks.model;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;

/**
 * The object of the browsers scenario (section 11): a numbered object whose number decides which
 * clients see it ({@code support/Subsets}), and the number of the change that wrote its state, by
 * which the harness finds the commit time it recorded. Otherwise as {@link BenchItem}: a few
 * fields of the usual kinds, about the same size on the wire.
 */
@Entity
@Entangled
public class WebItem {
  @Id public long id;
  /** The harness's number of the change that wrote this state; -1 for the initial rows. */
  public long changeNumber;
  public String name;
  public int quantity;
  public double price;
  public boolean active;
  public String note;

  public WebItem() {}

  public WebItem(long id) {
    this.id = id;
    this.changeNumber = -1;
    this.name = "object-" + id;
    this.active = true;
    this.note = "browsers benchmark";
  }

  /** The state written by change {@code n}: three fields change, as in BenchItem's update workload. */
  public void write(long n) {
    this.changeNumber = n;
    this.quantity = (int) (n % 1000);
    this.price = n * 0.5;
    this.name = "updated-" + n;
  }
}
