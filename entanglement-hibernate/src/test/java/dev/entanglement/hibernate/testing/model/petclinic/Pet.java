package dev.entanglement.hibernate.testing.model.petclinic;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.CascadeType;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderBy;
import jakarta.persistence.Table;
import java.time.LocalDate;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Set;

@Entity
@Table(name = "pets")
@Entangled
public class Pet extends NamedEntity {
  @Column(name = "birth_date")
  private LocalDate birthDate;

  @ManyToOne
  @JoinColumn(name = "type_id")
  private PetType type;

  @OneToMany(cascade = CascadeType.ALL, fetch = FetchType.EAGER)
  @JoinColumn(name = "pet_id")
  @OrderBy("date ASC")
  private final Set<Visit> visits = new LinkedHashSet<>();

  public void setBirthDate(LocalDate birthDate) {
    this.birthDate = birthDate;
  }

  public LocalDate getBirthDate() {
    return this.birthDate;
  }

  public PetType getType() {
    return this.type;
  }

  public void setType(PetType type) {
    this.type = type;
  }

  public Collection<Visit> getVisits() {
    return this.visits;
  }

  public void addVisit(Visit visit) {
    getVisits().add(visit);
  }
}
