package dev.entanglement.sample.entangled;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two nodes start, register their files, and carry changes from one to the other. */
class EntangledReplicationTest {
  private static final String APP = "/etc/app.conf";
  private static final String DB = "/etc/db/db.conf";

  @TempDir Path temp;
  private EntangledPair pair;

  @AfterEach
  void stop() {
    if (pair != null) {
      pair.close();
    }
  }

  @Test
  void bootstrap_sameFilesOnBothNodes_areReportedAligned_andLeftUntouched() throws Exception {
    pair = new EntangledPair(temp, APP, DB);
    for (String node : new String[] {"a", "b"}) {
      pair.write(node, APP, "port = 8080\n");
      pair.write(node, DB, "url = jdbc:h2:mem:x\n");
    }
    Object keyOfB = fileKey(pair.file("b", APP));
    FileTime modifiedOnB = Files.getLastModifiedTime(pair.file("b", APP));

    pair.start();

    pair.awaitStatusOnBoth(APP, "aligned");
    pair.awaitStatusOnBoth(DB, "aligned");
    JsonNode app = pair.fileState("a", APP);
    assertThat(app.get("local").get("md5").asText()).isEqualTo(app.get("remote").get("md5").asText())
        .isEqualTo(FileReplicator.md5("port = 8080\n".getBytes()));
    assertThat(app.get("local").get("cause").asText()).isEqualTo("REGISTERED");
    assertThat(fileKey(pair.file("b", APP))).as("b's file was not replaced").isEqualTo(keyOfB);
    assertThat(Files.getLastModifiedTime(pair.file("b", APP))).isEqualTo(modifiedOnB);
  }

  /**
   * A file that cannot be read at start (here one over the size entangled replicates; a file of
   * mode 000 takes the same path, but tests run as root, who reads it anyway) is reported as
   * unreadable with the reason, not as missing (which promised to create it); once it can be read
   * with the peer's content, the two are aligned, not split-brain.
   */
  @Test
  void bootstrap_aFileThatCannotBeRead_isReportedAsSuch_andAlignsOnceReadable() throws Exception {
    pair = new EntangledPair(temp, APP);
    pair.write("a", APP, "port = 8080\n");
    Files.write(pair.file("b", APP), new byte[FileVersion.MAX_CONTENT_BYTES + 1]);
    try (dev.entanglement.hibernate.testing.LogCapture log = dev.entanglement.hibernate.testing.LogCapture.start()) {
      pair.start();
      await().atMost(EntangledPair.WAIT).untilAsserted(() -> {
        JsonNode onB = pair.fileState("b", APP);
        assertThat(onB.get("status").asText()).isEqualTo("unreadable");
        assertThat(onB.get("problem").asText()).contains("more than the " + FileVersion.MAX_CONTENT_BYTES);
      });
      assertThat(log.warnings("does not exist")).isEmpty();
      assertThat(Files.size(pair.file("b", APP))).as("nothing was written over it").isEqualTo(FileVersion.MAX_CONTENT_BYTES + 1);

      pair.write("b", APP, "port = 8080\n");
      pair.awaitStatusOnBoth(APP, "aligned");
    }
  }

  @Test
  void bootstrap_differentFiles_areReportedAsSplitBrain_notResolved_filesUntouched() {
    pair = new EntangledPair(temp, APP);
    pair.write("a", APP, "port = 8080\n");
    pair.write("b", APP, "port = 9090\n");

    pair.start();

    pair.awaitStatusOnBoth(APP, "split-brain");
    assertThat(pair.fileState("b", APP).get("detail").asText()).contains("made independently");
    // and it stays so: neither node overwrites the other
    await().during(Duration.ofSeconds(1)).atMost(EntangledPair.WAIT).untilAsserted(() -> {
      assertThat(pair.read("a", APP)).isEqualTo("port = 8080\n");
      assertThat(pair.read("b", APP)).isEqualTo("port = 9090\n");
    });
    pair.awaitStatusOnBoth(APP, "split-brain");
  }

  @Test
  void aChange_propagatesByteForByte_replacingThePeersFileAtomically_seenByTheWatchService() throws Exception {
    // scans an hour apart: only the watch service can notice the change in time
    pair = new EntangledPair(temp, APP).scanIntervalMs(3_600_000);
    pair.write("a", APP, "port = 8080\n");
    pair.write("b", APP, "port = 8080\n");
    Files.setPosixFilePermissions(pair.file("b", APP), PosixFilePermissions.fromString("rw-------"));
    pair.start();
    pair.awaitStatusOnBoth(APP, "aligned");
    Object keyBefore = fileKey(pair.file("b", APP));

    byte[] content = new byte[200_000];
    new Random(7).nextBytes(content); // every byte value, not just text
    pair.write("a", APP, content);

    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.readBytes("b", APP)).isEqualTo(content));
    // a rename of a new file over the old one: another inode, the old file's mode, nothing left behind
    assertThat(fileKey(pair.file("b", APP))).as("b's file was replaced, not written in place").isNotEqualTo(keyBefore);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(pair.file("b", APP)))).isEqualTo("rw-------");
    assertThat(pair.strayFiles("b", APP)).isEmpty();
    pair.awaitStatusOnBoth(APP, "aligned");
    JsonNode onB = pair.fileState("b", APP);
    assertThat(onB.get("local").get("cause").asText()).isEqualTo("ADOPTED");
    assertThat(onB.get("local").get("basedOn").asLong()).isEqualTo(2);
    assertThat(onB.get("remote").get("generation").asLong()).isEqualTo(2);
    assertThat(onB.get("local").get("md5").asText()).isEqualTo(FileReplicator.md5(content));

    // and back: b's next change reaches a
    pair.write("b", APP, "port = 9090\n");
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.read("a", APP)).isEqualTo("port = 9090\n"));
    pair.awaitStatusOnBoth(APP, "aligned");
  }

  @Test
  void aMissingFile_isReported_thenCreatedWithMode644_whenThePeerChangesIt() throws Exception {
    pair = new EntangledPair(temp, APP);
    pair.write("a", APP, "port = 8080\n");
    pair.start();

    await().atMost(EntangledPair.WAIT).untilAsserted(() -> {
      JsonNode onB = pair.fileState("b", APP);
      assertThat(onB.get("local").get("present").asBoolean()).isFalse();
      assertThat(onB.get("local").get("md5").isNull()).isTrue();
      assertThat(onB.get("remote").get("present").asBoolean()).isTrue();
    });
    pair.awaitStatusOnBoth(APP, "split-brain"); // they differ at start: nothing is created yet
    assertThat(pair.file("b", APP)).doesNotExist();

    pair.write("a", APP, "port = 8081\n");

    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.file("b", APP)).exists());
    assertThat(pair.read("b", APP)).isEqualTo("port = 8081\n");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(pair.file("b", APP)))).isEqualTo("rw-r--r--");
    pair.awaitStatusOnBoth(APP, "aligned");
  }

  @Test
  void aMissingFile_isCreatedWithMode644_whenThePeerForcesAlignment() throws Exception {
    pair = new EntangledPair(temp, APP);
    pair.write("a", APP, "only on a\n");
    pair.start();
    pair.awaitStatusOnBoth(APP, "split-brain");

    var forced = pair.post("a", "force?path=" + APP);

    assertThat(forced.statusCode()).as(forced.body()).isEqualTo(200);
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.file("b", APP)).exists());
    assertThat(pair.read("b", APP)).isEqualTo("only on a\n");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(pair.file("b", APP)))).isEqualTo("rw-r--r--");
    pair.awaitStatusOnBoth(APP, "aligned");
  }

  @Test
  void aDeletedFile_isNotDeletedOnThePeer_andComesBackWhenThePeerChangesIt() throws Exception {
    pair = new EntangledPair(temp, APP);
    pair.write("a", APP, "port = 8080\n");
    pair.write("b", APP, "port = 8080\n");
    pair.start();
    pair.awaitStatusOnBoth(APP, "aligned");

    Files.delete(pair.file("b", APP));

    pair.awaitStatusOnBoth(APP, "misaligned");
    assertThat(pair.fileState("a", APP).get("detail").asText()).contains("deleted on node 'b'");
    assertThat(pair.read("a", APP)).isEqualTo("port = 8080\n");

    pair.write("a", APP, "port = 8082\n");
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.file("b", APP)).exists());
    assertThat(pair.read("b", APP)).isEqualTo("port = 8082\n");
    pair.awaitStatusOnBoth(APP, "aligned");
  }

  /** The WARN and DEBUG records of the entangled package, while the test runs. */
  static final class Warnings extends Handler implements AutoCloseable {
    private final Logger logger = Logger.getLogger("dev.entanglement.sample.entangled");
    private final Level level = logger.getLevel();
    private final List<String> warnings = new CopyOnWriteArrayList<>();
    private final List<String> debug = new CopyOnWriteArrayList<>();

    Warnings() {
      logger.setLevel(Level.FINE);
      logger.addHandler(this);
    }

    @Override
    public void publish(LogRecord record) {
      String line = new SimpleFormatter().formatMessage(record);
      (record.getLevel().intValue() >= Level.WARNING.intValue() ? warnings : debug).add(line);
    }

    List<String> containing(String text) {
      return warnings.stream().filter(line -> line.contains(text)).toList();
    }

    List<String> debugContaining(String text) {
      return debug.stream().filter(line -> line.contains(text)).toList();
    }

    @Override
    public void flush() {}

    @Override
    public void close() {
      logger.removeHandler(this);
      logger.setLevel(level);
    }
  }

  @Test
  void aFileThatCannotBeWritten_isReportedAsAProblem_loggedOnce_andWrittenOnceItCan() throws Exception {
    Warnings warnings = new Warnings();
    pair = new EntangledPair(temp, APP).scanIntervalMs(100); // each scan retries the write
    pair.write("a", APP, "port = 8080\n");
    pair.write("b", APP, "port = 8080\n");
    pair.start();
    pair.awaitStatusOnBoth(APP, "aligned");
    // b's file becomes a directory: neither readable as a file nor replaceable by one
    Files.delete(pair.file("b", APP));
    Files.createDirectory(pair.file("b", APP));
    await().atMost(EntangledPair.WAIT).untilAsserted(() ->
        assertThat(pair.fileState("b", APP).get("problem").asText()).contains("is a directory now"));

    pair.write("a", APP, "port = 8083\n");

    await().atMost(EntangledPair.WAIT).untilAsserted(() ->
        assertThat(pair.fileState("b", APP).get("problem").asText())
            .isEqualTo("cannot write node 'a''s version to " + pair.file("b", APP) + ": Is a directory"));
    assertThat(pair.state("a").get("peerConnected").asBoolean()).isTrue(); // both carry on
    // a further version from a, and scans every 100 ms: each tries the write again, none logs again
    pair.write("a", APP, "port = 8084\n");
    await().atMost(EntangledPair.WAIT).untilAsserted(() ->
        assertThat(pair.fileState("b", APP).get("remote").get("md5").asText())
            .isEqualTo(FileReplicator.md5("port = 8084\n".getBytes())));
    await().atMost(EntangledPair.WAIT).until(() -> warnings.debugContaining("cannot write").size() >= 5);
    assertThat(warnings.containing("cannot write")).as("the write problem is logged once, not at every retry")
        .hasSize(1);

    Files.delete(pair.file("b", APP));
    await().atMost(EntangledPair.WAIT).untilAsserted(() -> assertThat(pair.file("b", APP)).isRegularFile());
    assertThat(pair.read("b", APP)).isEqualTo("port = 8084\n");
    pair.awaitStatusOnBoth(APP, "aligned");
    assertThat(pair.fileState("b", APP).get("problem").isNull()).isTrue();
    // each failed try removed its temporary file (checked once no try runs any more)
    assertThat(pair.strayFiles("b", APP)).isEmpty();
    warnings.close();
  }

  private static Object fileKey(Path file) throws Exception {
    return Files.readAttributes(file, BasicFileAttributes.class).fileKey();
  }
}
