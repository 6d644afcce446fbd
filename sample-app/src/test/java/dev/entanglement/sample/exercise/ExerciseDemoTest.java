package dev.entanglement.sample.exercise;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The exercise demo runs to the end and each step's table shows the visibility the rules promise. */
class ExerciseDemoTest {
  private static String output;
  private static int status;

  @BeforeAll
  static void runTheDemo() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    java.nio.file.Path certificates = java.nio.file.Path.of("target", "exercise-certificates-" + System.nanoTime());
    status = ExerciseDemo.run(new String[] {"--certificates", certificates.toString()},
        new PrintStream(bytes, true, StandardCharsets.UTF_8));
    output = bytes.toString(StandardCharsets.UTF_8);
  }

  /** One step's table: node -> [machines, announcements, marker]. */
  static Map<String, List<String>> table(String step) {
    List<String> lines = output.lines().toList();
    int heading = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith("== " + step + ". ")) {
        heading = i;
      }
    }
    assertThat(heading).as("step %s printed in:%n%s", step, output).isNotNegative();
    // the step's notes (what it did) come between its heading and its table
    int header = heading + 1;
    while (header < lines.size() && !lines.get(header).trim().startsWith("node ")) {
      header++;
    }
    assertThat(header).as("step %s's table in:%n%s", step, output).isLessThan(lines.size());
    assertThat(lines.get(header).trim().split("\\s{2,}"))
        .containsExactly("node", "machines (owner: status)", "announcements", "marker");
    Map<String, List<String>> rows = new LinkedHashMap<>();
    for (int i = header + 1; i < lines.size() && !lines.get(i).isBlank(); i++) {
      String[] cells = lines.get(i).trim().split("\\s{2,}");
      rows.put(cells[0], List.of(cells[1], cells[2], cells[3]));
    }
    return rows;
  }

  @Test
  void aStepsResultIsPrintedUnderItsOwnHeading_notAboveTheNextOne() {
    int heading = output.indexOf("== %s. ".formatted("2"));
    int result = output.indexOf("blue handed blue-dc over to staff");
    assertThat(result).as(output).isGreaterThan(heading);
    assertThat(heading).as(output).isNotNegative();
  }

  @Test
  void exitsZero_afterEveryCheckHeld() {
    assertThat(status).as(output).isZero();
    assertThat(output).contains("over mutual TLS (certificates in ");
    assertThat(output).contains("Every check held: red never received blue's machines, blue never red's; staff saw everything.");
  }

  @Test
  void step1_teamsSeeTheirOwnMachines_staffAndRangeSeeAll_everyoneSeesTheAnnouncement() {
    Map<String, List<String>> rows = table("1");
    String all = "blue-dc (blue: running), blue-mail (blue: running), red-db (red: running), red-web (red: running)";
    assertThat(rows.get("staff")).containsExactly(all, "1", "objective A (0,0)");
    assertThat(rows.get("range")).containsExactly(all, "1", "objective A (0,0)");
    assertThat(rows.get("red")).containsExactly("red-db (red: running), red-web (red: running)", "1", "objective A (0,0)");
    assertThat(rows.get("blue")).containsExactly("blue-dc (blue: running), blue-mail (blue: running)", "1",
        "objective A (0,0)");
  }

  @Test
  void steps2to4_handOver_forwardedRequest_andRefusal() {
    assertThat(table("2").get("red").get(0)).isEqualTo("blue-dc (staff: running), red-db (red: running), red-web (red: running)");
    assertThat(table("3").get("blue").get(0)).contains("blue-mail (blue: patched by blue analyst)");
    assertThat(table("3").get("staff").get(0)).contains("blue-mail (blue: patched by blue analyst)");
    assertThat(output).contains("blue tried to overwrite red-web: not sent: ").contains("node 'blue' has never heard of owner 'red'");
    assertThat(table("4").get("red").get(0)).contains("red-web (red: running)");
  }

  @Test
  void step5_theDragIsSeenLiveByStaffAndRange_notByBlue_thenCommitted() {
    for (String node : List.of("staff", "range")) {
      assertThat(output).contains(String.format("%-5s sees the marker at (10,10) provisional, dragged by red", node));
    }
    assertThat(output).doesNotContain("blue  sees the marker").contains("blue is shown nothing of it");
    assertThat(output).contains("their databases still hold the marker at (0,0)");
    table("5").values().forEach(row -> assertThat(row.get(2)).isEqualTo("objective A (10,10)"));
  }

  @Test
  void steps6and7_blueIsAway_thenCatchesUpWithWhatItMaySee() {
    assertThat(table("6")).doesNotContainKey("blue");
    Map<String, List<String>> back = table("7");
    assertThat(back.get("blue")).containsExactly("blue-dc (staff: running), blue-mail (blue: patched by blue analyst)",
        "2", "objective A (20,5)");
    assertThat(back.get("red").get(0)).contains("red-web (red: compromised)").doesNotContain("blue-mail");
  }
}
