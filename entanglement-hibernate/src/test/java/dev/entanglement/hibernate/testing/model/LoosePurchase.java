package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.annotations.EntangledReference;
import dev.entanglement.hibernate.annotations.EntangledReference.WhenMissing;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.Id;
import jakarta.persistence.ManyToOne;
import java.util.UUID;

/** A purchase whose customer reference is @EntangledReference(whenMissing = STORE_NULL). */
@Entity
@Entangled
public class LoosePurchase {
  @Id public UUID id = UUID.randomUUID();
  @ManyToOne(fetch = FetchType.LAZY)
  @EntangledReference(whenMissing = WhenMissing.STORE_NULL)
  public Customer customer;
  public String article;

  protected LoosePurchase() {}

  public LoosePurchase(Customer customer, String article) {
    this.customer = customer;
    this.article = article;
  }
}
