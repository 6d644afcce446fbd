package dev.entanglement.sample.entangled;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.annotations.EntangledPolicy;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import jakarta.persistence.Version;
import java.time.Instant;

/**
 * One node's current version of one listed file. Every node owns its own rows (the id is
 * {@code node + ":" + path}) and holds the peer's rows by replication; nobody changes a row of
 * another node ({@link FileVersionRules} refuses such requests).
 *
 * <p>{@link #getGeneration() generation} counts this node's own changes of the file;
 * {@link #getBasedOn() basedOn} is the peer's generation this version was made knowing; together
 * they tell which of the two versions supersedes the other ({@link Alignment}).
 */
@Entity
@Table(name = "entangled_file_version")
@Entangled
@EntangledPolicy(FileVersionRules.class)
public class FileVersion {
  /** The largest file replicated, in bytes: configuration files, not bulk data. */
  public static final int MAX_CONTENT_BYTES = 16 * 1024 * 1024;

  /** How this version came to be. */
  public enum Cause {
    /** The file as found when the node listed it for the first time. */
    REGISTERED,
    /** A change of the file on this node. */
    CHANGED,
    /** The peer's content, written to this node's file. */
    ADOPTED,
    /** This node's content, forced onto the peer ({@code POST /api/1/force}). */
    FORCED,
    /** The file was deleted on this node (not a new version: deletions are not replicated). */
    DELETED
  }

  @Id @Column(length = 1100) private String id;
  @Column(nullable = false, length = 64) private String node;
  @Column(nullable = false, length = 1024) private String path;
  private boolean present;
  @Column(length = 32) private String md5;
  @Column(length = MAX_CONTENT_BYTES) private byte[] content;
  private long size;
  private Instant modified;
  private long generation;
  private long basedOn;
  private boolean changedApart;
  @Enumerated(EnumType.STRING) @Column(length = 16) private Cause cause;
  private Instant recorded;
  @Version private long version;

  protected FileVersion() {}

  FileVersion(String node, String path) {
    this.id = id(node, path);
    this.node = node;
    this.path = path;
  }

  /** The id of a node's row for a file. */
  static String id(String node, String path) {
    return node + ":" + path;
  }

  public String getId() {
    return id;
  }

  /** The node whose file this version describes (and which owns the row). */
  public String getNode() {
    return node;
  }

  /** The file's name in the cluster: its path under the node's root, starting with '/'. */
  public String getPath() {
    return path;
  }

  /** Whether the file exists on the node. */
  public boolean isPresent() {
    return present;
  }

  /** MD5 of the content, 32 lower-case hex digits; null when the file does not exist. */
  public String getMd5() {
    return md5;
  }

  /** The file's bytes; null when the file does not exist. */
  public byte[] getContent() {
    return content;
  }

  public long getSize() {
    return size;
  }

  /** The file's modification time on the node, to the millisecond; null when it does not exist. */
  public Instant getModified() {
    return modified;
  }

  public long getGeneration() {
    return generation;
  }

  public long getBasedOn() {
    return basedOn;
  }

  /** Whether this version was made while the node could not reach its peer. */
  public boolean isChangedApart() {
    return changedApart;
  }

  public Cause getCause() {
    return cause;
  }

  /** When the node recorded this version. */
  public Instant getRecorded() {
    return recorded;
  }

  void setFile(byte[] content, String md5, Instant modified) {
    this.present = content != null;
    this.content = content;
    this.md5 = md5;
    this.size = content == null ? 0 : content.length;
    this.modified = modified;
  }

  void setModified(Instant modified) {
    this.modified = modified;
  }

  void setVersion(long generation, long basedOn, boolean changedApart, Cause cause, Instant recorded) {
    this.generation = generation;
    this.basedOn = basedOn;
    this.changedApart = changedApart;
    this.cause = cause;
    this.recorded = recorded;
  }

  void setCause(Cause cause, Instant recorded) {
    this.cause = cause;
    this.recorded = recorded;
  }
}
