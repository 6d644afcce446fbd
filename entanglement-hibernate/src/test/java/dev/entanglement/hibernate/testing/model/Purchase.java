package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.Id;
import jakarta.persistence.ManyToOne;
import java.util.UUID;

@Entity
@Entangled
public class Purchase {
  @Id public UUID id = UUID.randomUUID();
  @ManyToOne(fetch = FetchType.LAZY) public Customer customer;
  public String article;

  protected Purchase() {}

  public Purchase(Customer customer, String article) {
    this.customer = customer;
    this.article = article;
  }
}
