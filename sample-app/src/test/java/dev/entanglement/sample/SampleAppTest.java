package dev.entanglement.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The demo's script runs to the end in-process, and each table shows what each node holds. */
class SampleAppTest {
  private static final List<String> ALL = List.of("alpha", "bravo", "charlie");

  /** One step's table: node -> its rows, each as "title | status | ... | local note". */
  static Map<String, List<String>> table(String output, String step) {
    List<String> lines = output.lines().toList();
    int heading = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith("== " + step + " ")) {
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
        .containsExactly("node", "task", "status", "assignee", "due", "board", "version", "owner", "local note");
    Map<String, List<String>> rows = new LinkedHashMap<>();
    for (int i = header + 1; i < lines.size() && !lines.get(i).isBlank(); i++) {
      String[] cells = lines.get(i).trim().split("\\s{2,}");
      assertThat(cells).as("cells of '%s'", lines.get(i)).hasSize(9);
      rows.computeIfAbsent(cells[0], node -> new ArrayList<>())
          .add(String.join(" | ", Arrays.asList(cells).subList(1, cells.length)));
    }
    return rows;
  }

  /** The rows every node should show, in title order; the local note only at alpha. */
  private static void assertEveryNode(Map<String, List<String>> table, List<String> nodes, String... rows) {
    assertThat(table).as("nodes of the table").containsOnlyKeys(nodes);
    for (String node : nodes) {
      List<String> expected = Arrays.stream(rows)
          .map(row -> row.replace("{note}", node.equals("alpha") ? "alpha only" : "-"))
          .toList();
      assertThat(table.get(node)).as("what %s holds", node).containsExactlyElementsOf(expected);
    }
  }

  private static String run(String... args) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code = SampleApp.run(args, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String output = bytes.toString(StandardCharsets.UTF_8);
    assertThat(code).as(output).isZero();
    return output;
  }

  @Test
  void run_exitsZero_andEachStepReachesEveryConnectedNode() {
    String output = run();
    // a step's result comes under its own heading, not above the next one
    assertThat(output.indexOf("charlie asked bravo, the owner")).as(output).isGreaterThan(output.indexOf("== 5. "));

    assertThat(output).containsPattern("alpha listens on 127\\.0\\.0\\.1:\\d+, bravo and charlie dial it\\.");
    assertEveryNode(table(output, "1."), ALL,
        "Ship release | TODO | ben | 2026-12-15 | Launch | v0 | alpha | -",
        "Tidy backlog | TODO | - | - | Launch | v0 | alpha | -",
        "Write docs | TODO | ana | 2026-12-01 | Launch | v0 | alpha | {note}");
    // update: a status, a title, and a whole embeddable
    assertEveryNode(table(output, "2."), ALL,
        "Ship release 1.0 | TODO | cleo | 2026-12-20 | Launch | v1 | alpha | -",
        "Tidy backlog | TODO | - | - | Launch | v0 | alpha | -",
        "Write docs | DONE | ana | 2026-12-01 | Launch | v1 | alpha | {note}");
    assertEveryNode(table(output, "3."), ALL,
        "Ship release 1.0 | TODO | cleo | 2026-12-20 | Launch | v1 | alpha | -",
        "Write docs | DONE | ana | 2026-12-01 | Launch | v1 | alpha | {note}");
    // created on bravo, relayed by alpha to charlie, with its reference to alpha's board
    assertEveryNode(table(output, "4."), ALL,
        "Review | TODO | dev | 2026-12-10 | Launch | v0 | bravo | -",
        "Ship release 1.0 | TODO | cleo | 2026-12-20 | Launch | v1 | alpha | -",
        "Write docs | DONE | ana | 2026-12-01 | Launch | v1 | alpha | {note}");
    assertThat(output).contains(
        "charlie asked bravo, the owner, to start 'Review': bravo's answer is DOING, version 1");
    assertEveryNode(table(output, "5."), ALL,
        "Review | DOING | dev | 2026-12-10 | Launch | v1 | bravo | -",
        "Ship release 1.0 | TODO | cleo | 2026-12-20 | Launch | v1 | alpha | -",
        "Write docs | DONE | ana | 2026-12-01 | Launch | v1 | alpha | {note}");
    String[] last = {
        "Plan 1.1 | TODO | - | - | Launch | v0 | alpha | -",
        "Review | DOING | dev | 2026-12-10 | Launch | v1 | bravo | -",
        "Ship release 1.0 | DOING | cleo | 2026-12-20 | Launch | v2 | alpha | -",
        "Write docs | DONE | ana | 2026-12-01 | Launch | v1 | alpha | {note}"};
    assertEveryNode(table(output, "6."), List.of("alpha", "bravo"), last);
    assertEveryNode(table(output, "7."), ALL, last);
    assertThat(output).endsWith("All three nodes hold the same 4 tasks." + System.lineSeparator());
  }

  @Test
  void keepRunning_printsAddressesThatAcceptConnections_untilStopped() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    AtomicInteger code = new AtomicInteger(-1);
    Thread demo = new Thread(() -> code.set(SampleApp.run(new String[] {"--keep-running"},
        new PrintStream(bytes, true, StandardCharsets.UTF_8))), "sample-app-test");
    demo.start();
    try {
      await().atMost(Duration.ofSeconds(60))
          .until(() -> bytes.toString(StandardCharsets.UTF_8).contains("Press Ctrl-C to stop."));
    } catch (RuntimeException timedOut) {
      demo.interrupt();
      throw new AssertionError(bytes.toString(StandardCharsets.UTF_8), timedOut);
    }
    String output = bytes.toString(StandardCharsets.UTF_8);
    assertThat(output).contains("All three nodes hold the same 4 tasks.", "The nodes keep running (--keep-running)");
    Matcher address = Pattern.compile("(?m)^  (alpha|bravo|charlie) +127\\.0\\.0\\.1:(\\d+)$").matcher(output);
    List<String> listed = new ArrayList<>();
    List<Integer> ports = new ArrayList<>();
    while (address.find()) {
      listed.add(address.group(1));
      ports.add(Integer.parseInt(address.group(2)));
    }
    assertThat(listed).as(output).containsExactly("alpha", "bravo", "charlie");
    for (int port : ports) {
      try (Socket socket = new Socket("127.0.0.1", port)) {
        assertThat(socket.isConnected()).isTrue();
      }
    }

    demo.interrupt();
    demo.join(Duration.ofSeconds(30).toMillis());
    assertThat(demo.isAlive()).as("the demo stops on interrupt").isFalse();
    assertThat(code.get()).isZero();
    assertThat(bytes.toString(StandardCharsets.UTF_8)).endsWith("Stopped." + System.lineSeparator());
    for (int port : ports) {
      assertThatThrownBy(() -> new Socket("127.0.0.1", port).close())
          .as("port %d closed with its node", port)
          .isInstanceOf(ConnectException.class);
    }
  }

  @Test
  void unknownOption_printsUsage_andExits2() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int code = SampleApp.run(new String[] {"--fast"}, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    assertThat(code).isEqualTo(2);
    assertThat(bytes.toString(StandardCharsets.UTF_8).lines())
        .containsExactly("unknown option '--fast'", "usage: SampleApp [--keep-running]");
  }
}
