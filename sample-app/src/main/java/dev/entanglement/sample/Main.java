package dev.entanglement.sample;

import dev.entanglement.sample.entangled.EntangledMain;
import dev.entanglement.sample.exercise.ExerciseDemo;
import dev.entanglement.sample.web.WebDemoNode;
import java.util.Arrays;

/**
 * Chooses a demo: {@code exercise} (the default) or {@code tasks}; the rest of the arguments go
 * to the demo. {@code mvn -q -pl sample-app exec:java -Dexec.args="tasks --keep-running"}.
 * {@code board} serves the live task board for browsers ({@link WebDemoNode#board}).
 * {@code entangled} runs one node of the configuration-file replicator instead
 * ({@link EntangledMain}; {@code entangled --help} lists its options).
 */
public final class Main {
  static final String USAGE =
      "usage: Main [exercise|tasks] [--keep-running] | Main board [--page PORT] | Main entangled --help";

  private Main() {}

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("entangled")) {
      EntangledMain.main(Arrays.copyOfRange(args, 1, args.length)); // a long-running node, its own logging
      return;
    }
    SampleApp.quietLogging();
    String demo = args.length > 0 && !args[0].startsWith("-") ? args[0] : "exercise";
    String[] rest = args.length > 0 && !args[0].startsWith("-") ? Arrays.copyOfRange(args, 1, args.length) : args;
    int status = switch (demo) {
      case "exercise" -> ExerciseDemo.run(rest, System.out);
      case "tasks" -> SampleApp.run(rest, System.out);
      case "board" -> runBoard(rest);
      default -> {
        System.out.println("unknown demo '" + demo + "'");
        System.out.println(USAGE);
        yield 2;
      }
    };
    System.exit(status);
  }

  private static int runBoard(String[] args) {
    try {
      return WebDemoNode.board(args);
    } catch (Exception e) {
      System.out.println("The board failed: " + e);
      return 1;
    }
  }
}
