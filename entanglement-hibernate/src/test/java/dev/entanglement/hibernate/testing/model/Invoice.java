package dev.entanglement.hibernate.testing.model;

import jakarta.persistence.Entity;
import java.math.BigDecimal;

@Entity
public class Invoice extends Document {
  public BigDecimal total;
}
