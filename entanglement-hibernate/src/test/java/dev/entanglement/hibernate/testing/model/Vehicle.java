package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Inheritance;
import jakarta.persistence.InheritanceType;
import java.util.UUID;

/** Single-table inheritance root. */
@Entity
@Entangled
@Inheritance(strategy = InheritanceType.SINGLE_TABLE)
public abstract class Vehicle {
  @Id public UUID id = UUID.randomUUID();
  public String plate;
}
