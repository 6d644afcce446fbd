package dev.entanglement.hibernate.testing.model.petclinic;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Table;
import java.time.LocalDate;

@Entity
@Table(name = "visits")
@Entangled
public class Visit extends BaseEntity {
  @Column(name = "visit_date")
  private LocalDate date;

  private String description;

  /** Creates a new instance of Visit for the current date. */
  public Visit() {
    this.date = LocalDate.now();
  }

  public LocalDate getDate() {
    return this.date;
  }

  public void setDate(LocalDate date) {
    this.date = date;
  }

  public String getDescription() {
    return this.description;
  }

  public void setDescription(String description) {
    this.description = description;
  }
}
