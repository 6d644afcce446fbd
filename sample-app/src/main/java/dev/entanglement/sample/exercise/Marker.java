package dev.entanglement.sample.exercise;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Version;

/** A marker on the shared exercise board (owned by staff); teams drag it with transitions. */
@Entity
@Entangled
public class Marker {
  @Id private long id;
  private String label;
  private int x;
  private int y;
  @Version private long version;

  protected Marker() {}

  public Marker(long id, String label) {
    this.id = id;
    this.label = label;
  }

  public long getId() { return id; }
  public String getLabel() { return label; }
  public int getX() { return x; }
  public int getY() { return y; }

  public void moveTo(int x, int y) {
    this.x = x;
    this.y = y;
  }

  @Override
  public String toString() {
    return label + " (" + x + "," + y + ")";
  }
}
