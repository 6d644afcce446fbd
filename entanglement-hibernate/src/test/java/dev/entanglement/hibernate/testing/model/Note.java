package dev.entanglement.hibernate.testing.model;

import jakarta.persistence.Embeddable;

@Embeddable
public class Note {
  public String text;
  public int stars;

  protected Note() {}

  public Note(String text, int stars) {
    this.text = text;
    this.stars = stars;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Note n && java.util.Objects.equals(text, n.text) && stars == n.stars;
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(text, stars);
  }

  @Override
  public String toString() {
    return text + "*" + stars;
  }
}
