package dev.entanglement.sample;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The demo's script runs to the end, and each step shows what it says at every node. */
class SampleAppTest {

  private static List<String> section(String output, String heading) {
    int start = output.indexOf("== " + heading);
    assertThat(start).as("step '%s' printed", heading).isNotNegative();
    int end = output.indexOf("\n\n", start);
    return output.substring(start, end).lines().skip(1).map(String::trim).toList();
  }

  private static String line(List<String> lines, String node) {
    return lines.stream().filter(l -> l.startsWith(node + " ")).findFirst().orElseThrow();
  }

  @Test
  void run_exitsZero_andEveryStepReachesEveryNode() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code = SampleApp.run(new String[0], new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String output = bytes.toString(StandardCharsets.UTF_8);
    assertThat(code).as(output).isZero();

    List<String> created = section(output, "1. alpha creates a board and three tasks");
    for (String node : List.of("alpha", "bravo", "charlie")) {
      assertThat(line(created, node)).contains("Write docs [TODO, v0, owner alpha]")
          .contains("Ship release [TODO, v0, owner alpha]").contains("Tidy backlog [TODO, v0, owner alpha]");
    }
    List<String> updated = section(output, "2. alpha finishes one task and renames another");
    for (String node : List.of("alpha", "bravo", "charlie")) {
      assertThat(line(updated, node)).contains("Write docs [DONE, v1, owner alpha]")
          .contains("Ship release 1.0 [TODO, v1, owner alpha]");
    }
    List<String> deleted = section(output, "3. alpha deletes a task");
    for (String node : List.of("alpha", "bravo", "charlie")) {
      assertThat(line(deleted, node)).doesNotContain("Tidy backlog");
    }
    List<String> fromBravo = section(output, "4. bravo adds a task");
    for (String node : List.of("alpha", "bravo", "charlie")) {
      assertThat(line(fromBravo, node)).contains("Review from bravo [TODO, v0, owner bravo]");
    }
    assertThat(output).contains("charlie's request came back from bravo: Review from bravo is DOING");
    List<String> forwarded = section(output, "5. charlie asks bravo (the owner) to start bravo's task");
    for (String node : List.of("alpha", "bravo", "charlie")) {
      assertThat(line(forwarded, node)).contains("Review from bravo [DOING, v1, owner bravo]");
    }
    List<String> back = section(output, "6. charlie is back and catches up");
    assertThat(line(back, "charlie")).contains("Plan 1.1 [TODO, v0, owner alpha]")
        .contains("Ship release 1.0 [DOING, v2, owner alpha]").contains("Review from bravo [DOING, v1, owner bravo]");
    assertThat(line(back, "charlie")).isEqualTo(line(back, "alpha").replaceFirst("^alpha  ", "charlie"));
  }
}
