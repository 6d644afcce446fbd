package dev.entanglement.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sample app started as its own process, as a user starts it, exits 0 and shows replication. */
class SampleAppCommandTest {

  @Test
  void sampleApp_asAProcess_exitsZeroAndShowsTheObjectsAtEveryNode(@TempDir Path dir) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    File output = dir.resolve("out.txt").toFile();
    Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        "dev.entanglement.sample.SampleApp")
        .redirectErrorStream(true)
        .redirectOutput(output)
        .start();
    boolean exited = process.waitFor(120, TimeUnit.SECONDS);
    if (!exited) {
      process.destroyForcibly();
    }
    String text = Files.readString(output.toPath(), StandardCharsets.UTF_8);
    assertThat(exited).as(text).isTrue();
    assertThat(process.exitValue()).as(text).isZero();
    List<String> lines = text.lines().map(String::trim).toList();
    assertThat(lines).contains("== 6. charlie is back and catches up");
    int last = lines.indexOf("== 6. charlie is back and catches up");
    for (String node : List.of("alpha", "bravo", "charlie")) {
      assertThat(lines.subList(last, lines.size())).anySatisfy(line -> assertThat(line)
          .startsWith(node + " ")
          .contains("Plan 1.1 [TODO, v0, owner alpha]")
          .contains("Review from bravo [DOING, v1, owner bravo]")
          .contains("Ship release 1.0 [DOING, v2, owner alpha]")
          .contains("Write docs [DONE, v1, owner alpha]"));
    }
    assertThat(text).doesNotContain("Exception");
  }
}
