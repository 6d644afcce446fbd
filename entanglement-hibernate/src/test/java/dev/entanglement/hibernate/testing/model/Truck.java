package dev.entanglement.hibernate.testing.model;

import jakarta.persistence.Entity;

@Entity
public class Truck extends Vehicle {
  public double payloadTons;
}
