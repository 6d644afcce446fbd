package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.annotations.NotEntangled;
import jakarta.persistence.Column;
import jakarta.persistence.Embedded;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Version;
import java.util.UUID;

/** The workhorse test entity: a UUID id, a version, an embeddable and a local-only attribute. */
@Entity
@Entangled
public class Item {
  @Id @GeneratedValue(strategy = GenerationType.UUID) private UUID id;
  @Column(unique = true) private String code;
  private String name;
  private int quantity;
  @Embedded private Address address;
  @NotEntangled private String localNote;
  @Version private long version;

  protected Item() {}

  public Item(String code, String name, int quantity) {
    this.code = code;
    this.name = name;
    this.quantity = quantity;
  }

  public UUID getId() { return id; }
  public String getCode() { return code; }
  public String getName() { return name; }
  public void setName(String name) { this.name = name; }
  public int getQuantity() { return quantity; }
  public void setQuantity(int quantity) { this.quantity = quantity; }
  public Address getAddress() { return address; }
  public void setAddress(Address address) { this.address = address; }
  public String getLocalNote() { return localNote; }
  public void setLocalNote(String localNote) { this.localNote = localNote; }
  public long getVersion() { return version; }
}
