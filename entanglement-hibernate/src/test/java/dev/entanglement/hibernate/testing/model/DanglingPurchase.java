package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.annotations.EntangledReference;
import dev.entanglement.hibernate.annotations.EntangledReference.WhenMissing;
import jakarta.persistence.ConstraintMode;
import jakarta.persistence.Entity;
import jakarta.persistence.FetchType;
import jakarta.persistence.ForeignKey;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.ManyToOne;
import java.util.UUID;

/** A purchase whose customer reference is @EntangledReference(whenMissing = DANGLE). */
@Entity
@Entangled
public class DanglingPurchase {
  @Id public UUID id = UUID.randomUUID();
  @ManyToOne(fetch = FetchType.LAZY)
  @JoinColumn(foreignKey = @ForeignKey(ConstraintMode.NO_CONSTRAINT))
  @EntangledReference(whenMissing = WhenMissing.DANGLE)
  public Customer customer;
  public String article;

  protected DanglingPurchase() {}

  public DanglingPurchase(Customer customer, String article) {
    this.customer = customer;
    this.article = article;
  }
}
