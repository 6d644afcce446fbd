package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.NotEntangled;
import jakarta.persistence.Embeddable;
import java.util.Objects;

@Embeddable
public class Address {
  private String street;
  private String city;
  @NotEntangled private String localHint;

  protected Address() {}

  public Address(String street, String city) {
    this.street = street;
    this.city = city;
  }

  public String street() { return street; }
  public String city() { return city; }
  public String localHint() { return localHint; }
  public void localHint(String hint) { this.localHint = hint; }

  @Override
  public boolean equals(Object o) {
    return o instanceof Address a && Objects.equals(street, a.street) && Objects.equals(city, a.city);
  }

  @Override
  public int hashCode() {
    return Objects.hash(street, city);
  }
}
