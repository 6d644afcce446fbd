package dev.entanglement.hibernate.testing.model.petclinic;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.CascadeType;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderBy;
import jakarta.persistence.Table;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

@Entity
@Table(name = "owners")
@Entangled
public class Owner extends Person {
  @Column(name = "address")
  private String address;

  @Column(name = "city")
  private String city;

  @Column(name = "telephone")
  private String telephone;

  @OneToMany(cascade = CascadeType.ALL, fetch = FetchType.EAGER)
  @JoinColumn(name = "owner_id")
  @OrderBy("name")
  private final List<Pet> pets = new ArrayList<>();

  public String getAddress() {
    return this.address;
  }

  public void setAddress(String address) {
    this.address = address;
  }

  public String getCity() {
    return this.city;
  }

  public void setCity(String city) {
    this.city = city;
  }

  public String getTelephone() {
    return this.telephone;
  }

  public void setTelephone(String telephone) {
    this.telephone = telephone;
  }

  public List<Pet> getPets() {
    return this.pets;
  }

  public void addPet(Pet pet) {
    if (pet.isNew()) {
      getPets().add(pet);
    }
  }

  /** Return the Pet with the given name, or null if none found for this Owner. */
  public Pet getPet(String name) {
    for (Pet pet : getPets()) {
      if (!pet.isNew() && pet.getName().equalsIgnoreCase(name)) {
        return pet;
      }
    }
    return null;
  }

  /** Return the Pet with the given id, or null if none found for this Owner. */
  public Pet getPet(UUID id) {
    for (Pet pet : getPets()) {
      if (!pet.isNew() && pet.getId().equals(id)) {
        return pet;
      }
    }
    return null;
  }

  /** Adds the given Visit to the Pet with the given identifier. */
  public void addVisit(UUID petId, Visit visit) {
    Pet pet = getPet(petId);
    if (pet == null) {
      throw new IllegalArgumentException("Invalid Pet identifier!");
    }
    pet.addVisit(visit);
  }
}
