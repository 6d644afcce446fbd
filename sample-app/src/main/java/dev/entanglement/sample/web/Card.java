package dev.entanglement.sample.web;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Version;
import java.util.UUID;

/**
 * A card on the web demo's board. Its owner is its team: the node (red, blue or hq) that created
 * it, or that a browser asked to create it. Ids are UUIDs chosen where the card is created (a
 * browser's client chooses them too).
 */
@Entity
@Entangled
public class Card {
  @Id private UUID id;
  private String title;
  /** The board column: todo, doing, done. */
  private String lane = "todo";
  private int points;
  @Version private long version;

  protected Card() {}

  public Card(String title) {
    this.id = UUID.randomUUID();
    this.title = title;
  }

  public UUID getId() {
    return id;
  }

  public String getTitle() {
    return title;
  }

  public void setTitle(String title) {
    this.title = title;
  }

  public String getLane() {
    return lane;
  }

  public void setLane(String lane) {
    this.lane = lane;
  }

  public int getPoints() {
    return points;
  }

  public void setPoints(int points) {
    this.points = points;
  }

  public long getVersion() {
    return version;
  }
}
