package dev.entanglement.hibernate.testing.model;

import jakarta.persistence.Entity;

@Entity
public class Car extends Vehicle {
  public int seats;
}
