package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.OneToMany;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

@Entity
@Entangled(priority = -1)
public class Customer {
  @Id public UUID id = UUID.randomUUID();
  public String name;
  @OneToMany(mappedBy = "customer") public List<Purchase> purchases = new ArrayList<>();

  protected Customer() {}

  public Customer(String name) {
    this.name = name;
  }
}
