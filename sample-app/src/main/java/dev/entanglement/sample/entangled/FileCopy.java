package dev.entanglement.sample.entangled;

import dev.entanglement.hibernate.annotations.Entangled;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;

/**
 * One node's copy of one configuration file, owned by that node: the other node learns it by
 * replication and decides from it whether to write its own file. Each node writes only its own
 * rows.
 */
@Entity
@Entangled
public class FileCopy {
  @Id private String id; // node + "|" + path
  private String node;
  @Column(length = 4096) private String path;
  private boolean present;
  private String md5; // "" when the file does not exist
  @Column(length = 16 * 1024 * 1024) private byte[] content;
  private long modified; // epoch millis of the file, 0 when missing
  /** The md5 of the other node's file when this node's file changed: a change made on top of it. */
  private String base;
  /** Whether the change was made while the other node was out of reach (never propagates by itself). */
  private boolean apart;
  /** Raised by POST /api/1/force: the other node takes this content whatever it has. */
  private long force;
  /** The highest force of the other node's copy this node has followed. */
  private long appliedForce;
  private long generation;

  protected FileCopy() {}

  FileCopy(String node, String path) {
    this.id = node + "|" + path;
    this.node = node;
    this.path = path;
  }

  public String getId() { return id; }
  public String getNode() { return node; }
  public String getPath() { return path; }
  public boolean isPresent() { return present; }
  public String getMd5() { return md5; }
  public byte[] getContent() { return content; }
  public long getModified() { return modified; }
  public String getBase() { return base; }
  public boolean isApart() { return apart; }
  public long getForce() { return force; }
  public long getAppliedForce() { return appliedForce; }
  public long getGeneration() { return generation; }

  void appliedForce(long force) {
    this.appliedForce = force;
  }

  void record(boolean present, String md5, byte[] content, long modified, String base, boolean apart) {
    this.present = present;
    this.md5 = md5;
    this.content = content;
    this.modified = modified;
    this.base = base;
    this.apart = apart;
    this.generation++;
  }

  void forced(long force) {
    this.force = force;
  }
}
