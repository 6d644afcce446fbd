package dev.entanglement.sample.exercise;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Version;
import java.util.UUID;

/** A virtual machine a team works on; owned by the node that registered it. */
@Entity
@Entangled
public class Machine {
  @Id private UUID id;
  private String name;
  private String team;
  private String status;
  @Version private long version;

  protected Machine() {}

  public Machine(String name, String team) {
    this.id = UUID.nameUUIDFromBytes(name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    this.name = name;
    this.team = team;
    this.status = "running";
  }

  public UUID getId() { return id; }
  public String getName() { return name; }
  public String getTeam() { return team; }
  public String getStatus() { return status; }
  public void setStatus(String status) { this.status = status; }
  public long getVersion() { return version; }
}
