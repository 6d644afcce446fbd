package dev.entanglement.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample app started as a separate JVM, the way a user starts it
 * ({@code java -cp <classpath> dev.entanglement.sample.SampleApp}): it exits 0, and its tables
 * show the replicated tasks at every node.
 */
class SampleAppCommandTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(60);

  @Test
  void sampleApp_asAProcess_exitsZero_andShowsTheTasksAtEveryNode(@TempDir Path dir) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // the test classpath holds sample-app and its runtime dependencies (a test dependency here)
    String classpath = System.getProperty("java.class.path");
    Path stdout = dir.resolve("stdout.txt");
    Path stderr = dir.resolve("stderr.txt");
    long started = System.nanoTime();
    Process process = new ProcessBuilder(java, "-cp", classpath, "dev.entanglement.sample.SampleApp")
        .redirectOutput(stdout.toFile())
        .redirectError(stderr.toFile())
        .start();
    boolean exited = process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    if (!exited) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
    String out = Files.readString(stdout, StandardCharsets.UTF_8);
    String err = Files.readString(stderr, StandardCharsets.UTF_8);
    String both = "stdout:\n" + out + "\nstderr:\n" + err;

    assertThat(exited).as("exited within %s%n%s", TIMEOUT, both).isTrue();
    assertThat(process.exitValue()).as(both).isZero();
    assertThat(seconds).as("seconds the demo ran").isLessThan(30);

    List<String> lines = out.lines().map(String::strip).toList();
    assertThat(lines).as(both).containsSubsequence(
        "== 1. alpha creates a board and three tasks",
        "== 2. alpha finishes 'Write docs', renames 'Ship release' and hands it to cleo",
        "== 3. alpha deletes 'Tidy backlog'",
        "== 4. bravo adds 'Review' to alpha's board (bravo owns it; alpha relays it to charlie)",
        "== 5. charlie's change of bravo's task, decided by bravo",
        "charlie asked bravo, the owner, to start 'Review': bravo's answer is DOING, version 1",
        "== 6. charlie is away; alpha starts 'Ship release 1.0' and adds 'Plan 1.1'",
        "== 7. charlie is back and catches up",
        "All three nodes hold the same 4 tasks.");

    // bravo's task reached charlie through alpha (charlie has no link to bravo)
    List<String> relayed = rows(lines, "== 4.");
    for (String node : List.of("alpha", "bravo", "charlie")) {
      assertThat(relayed).as(both)
          .contains(node + " Review TODO dev 2026-12-10 Launch v0 bravo -");
    }
    // what charlie missed while away arrived on reconnecting
    List<String> caughtUp = rows(lines, "== 7.");
    assertThat(caughtUp).as(both).contains(
        "charlie Plan 1.1 TODO - - Launch v0 alpha -",
        "charlie Review DOING dev 2026-12-10 Launch v1 bravo -",
        "charlie Ship release 1.0 DOING cleo 2026-12-20 Launch v2 alpha -",
        "charlie Write docs DONE ana 2026-12-01 Launch v1 alpha -",
        "alpha Write docs DONE ana 2026-12-01 Launch v1 alpha alpha only");
    assertThat(caughtUp).as(both).hasSize(12);

    // nothing but the demo's own output: no warnings, no stack traces
    assertThat(err).as(both).doesNotContain("WARNING", "SEVERE", "Exception");
    assertThat(out).as(both).doesNotContain("Exception");
  }

  @Test
  void exerciseDemo_theReadmesMainCommand_asAProcess_exitsZero_andKeepsTheTeamsApart(@TempDir Path dir) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String classpath = System.getProperty("java.class.path");
    Path stdout = dir.resolve("stdout.txt");
    Path stderr = dir.resolve("stderr.txt");
    Process process = new ProcessBuilder(java, "-cp", classpath, "dev.entanglement.sample.Main")
        .redirectOutput(stdout.toFile())
        .redirectError(stderr.toFile())
        .start();
    boolean exited = process.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    if (!exited) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    String out = Files.readString(stdout, StandardCharsets.UTF_8);
    String err = Files.readString(stderr, StandardCharsets.UTF_8);
    String both = "stdout:\n" + out + "\nstderr:\n" + err;
    assertThat(exited).as("exited within %s%n%s", TIMEOUT, both).isTrue();
    assertThat(process.exitValue()).as(both).isZero();
    List<String> lines = out.lines().map(String::strip).toList();
    assertThat(lines).as(both).containsSubsequence(
        "== 1. red and blue register their machines; staff posts an announcement and a board marker",
        "== 2. blue hands blue-dc over to staff (staff's objects are shared with everyone)",
        "== 3. a change proposed at staff for a blue machine is forwarded through range to blue",
        "== 4. blue's attempt on a red machine goes nowhere: blue has never heard of red; nothing changed",
        "== 5. a marker dragged by red (a transition), then committed by its owner",
        "== 6. blue is away; staff announces phase 2 and moves the marker; red's web server is compromised",
        "== 7. blue is back and catches up (with what it may see only)",
        "Every check held: red never received blue's machines, blue never red's; staff saw everything.");
    for (String step : List.of("== 1.", "== 7.")) {
      List<String> table = rows(lines, step);
      assertThat(table.stream().filter(row -> row.startsWith("red ")).findFirst().orElseThrow()).as(both)
          .doesNotContain("blue-mail");
      assertThat(table.stream().filter(row -> row.startsWith("blue ")).findFirst().orElseThrow()).as(both)
          .doesNotContain("red-web", "red-db");
    }
    assertThat(err).as(both).doesNotContain("SEVERE", "Exception");
  }

  /** The rows of the table under a heading, with the padding collapsed to single spaces. */
  private static List<String> rows(List<String> lines, String heading) {
    int start = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith(heading + " ")) {
        start = i;
      }
    }
    assertThat(start).as("heading %s", heading).isNotNegative();
    int end = start + 2; // after the heading and the column names
    while (end < lines.size() && !lines.get(end).isEmpty()) {
      end++;
    }
    return lines.subList(start + 2, end).stream().map(line -> line.replaceAll("\\s+", " ")).toList();
  }
}
