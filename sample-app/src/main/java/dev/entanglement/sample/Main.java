package dev.entanglement.sample;

import dev.entanglement.sample.exercise.ExerciseDemo;
import java.util.Arrays;

/**
 * Chooses a demo: {@code exercise} (the default), {@code tasks}, or {@code entangled} (the
 * configuration-file replicator); the rest of the arguments go to it. {@code mvn -q -pl sample-app exec:java -Dexec.args="tasks --keep-running"}.
 */
public final class Main {
  static final String USAGE = "usage: Main [exercise|tasks] [--keep-running] | entangled --help";

  private Main() {}

  public static void main(String[] args) {
    SampleApp.quietLogging();
    String demo = args.length > 0 && !args[0].startsWith("-") ? args[0] : "exercise";
    String[] rest = args.length > 0 && !args[0].startsWith("-") ? Arrays.copyOfRange(args, 1, args.length) : args;
    int status = switch (demo) {
      case "exercise" -> ExerciseDemo.run(rest, System.out);
      case "tasks" -> SampleApp.run(rest, System.out);
      case "entangled" -> dev.entanglement.sample.entangled.EntangledMain.run(rest);
      default -> {
        System.out.println("unknown demo '" + demo + "'");
        System.out.println(USAGE);
        yield 2;
      }
    };
    System.exit(status);
  }
}
