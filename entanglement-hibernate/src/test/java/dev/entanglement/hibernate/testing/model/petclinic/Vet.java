package dev.entanglement.hibernate.testing.model.petclinic;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.JoinTable;
import jakarta.persistence.ManyToMany;
import jakarta.persistence.Table;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

@Entity
@Table(name = "vets")
@Entangled
public class Vet extends Person {
  @ManyToMany(fetch = FetchType.EAGER)
  @JoinTable(name = "vet_specialties", joinColumns = @JoinColumn(name = "vet_id"),
      inverseJoinColumns = @JoinColumn(name = "specialty_id"))
  private Set<Specialty> specialties;

  protected Set<Specialty> getSpecialtiesInternal() {
    if (this.specialties == null) {
      this.specialties = new HashSet<>();
    }
    return this.specialties;
  }

  public List<Specialty> getSpecialties() {
    return getSpecialtiesInternal().stream().sorted(Comparator.comparing(NamedEntity::getName)).toList();
  }

  public int getNrOfSpecialties() {
    return getSpecialtiesInternal().size();
  }

  public void addSpecialty(Specialty specialty) {
    getSpecialtiesInternal().add(specialty);
  }

  /** Not in PetClinic's Vet (its forms replace the vet): removes one specialty, for tests. */
  public void removeSpecialty(Specialty specialty) {
    getSpecialtiesInternal().removeIf(s -> s.getId().equals(specialty.getId()));
  }
}
