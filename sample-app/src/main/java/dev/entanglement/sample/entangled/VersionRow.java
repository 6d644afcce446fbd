package dev.entanglement.sample.entangled;

import java.time.Instant;

/**
 * A {@link FileVersion} without its content: what alignment is judged on and what the state
 * reports. Immutable.
 */
record VersionRow(
    String node,
    String path,
    boolean present,
    String md5,
    long size,
    Instant modified,
    long generation,
    long basedOn,
    boolean changedApart,
    FileVersion.Cause cause,
    Instant recorded) {

  static VersionRow of(FileVersion version) {
    return new VersionRow(version.getNode(), version.getPath(), version.isPresent(), version.getMd5(),
        version.getSize(), version.getModified(), version.getGeneration(), version.getBasedOn(),
        version.isChangedApart(), version.getCause(), version.getRecorded());
  }

  /** Whether both describe the same content (or both a missing file). */
  boolean sameContent(VersionRow other) {
    return present == other.present && (!present || md5.equals(other.md5));
  }
}
