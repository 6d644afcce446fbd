package dev.entanglement.hibernate.testing.model;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.annotations.EntangledReference;
import dev.entanglement.hibernate.annotations.EntangledReference.WhenMissing;
import jakarta.persistence.CollectionTable;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.JoinTable;
import jakarta.persistence.ManyToMany;
import jakarta.persistence.OneToMany;
import jakarta.persistence.OrderColumn;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Element collections of each kind (a set of basic values, an ordered list of embeddables, a map),
 * lazy as JPA's default, an ordered one-to-many through a join table, and a many-to-many whose
 * missing elements are left out.
 */
@Entity
@Entangled
public class Pinboard {
  @Id public UUID id = UUID.randomUUID();
  public String title;
  @ElementCollection @CollectionTable(name = "pinboard_tags") public Set<String> tags = new HashSet<>();
  @ElementCollection @CollectionTable(name = "pinboard_notes") @OrderColumn(name = "position")
  public List<Note> notes = new ArrayList<>();
  @ElementCollection @CollectionTable(name = "pinboard_counts") public Map<String, Integer> counts = new HashMap<>();
  @OneToMany @JoinTable(name = "pinboard_items") @OrderColumn(name = "position") public List<Item> pinned = new ArrayList<>();
  @ManyToMany @JoinTable(name = "pinboard_customers") @EntangledReference(whenMissing = WhenMissing.STORE_NULL)
  public Set<Customer> watchers = new HashSet<>();

  protected Pinboard() {}

  public Pinboard(String title) {
    this.title = title;
  }
}
