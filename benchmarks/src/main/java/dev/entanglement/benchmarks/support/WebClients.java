package dev.entanglement.benchmarks.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One Node process of WebSocket clients ({@code benchmarks/js/ws-clients.mjs}): clients of the real
 * {@code @entanglement/client} package and bare {@code ws} sockets, driven by commands on its
 * standard input. A reader thread hands the receive samples it prints to a {@link Samples} and
 * queues the answers to commands (one line each) for {@link #command}.
 *
 * <p>Bounds: the answer queue holds what the process printed that was not a sample; the harness
 * asks one command at a time per process and reads its answer, so it holds at most a few lines
 * (an error printed on its own is bounded by the commands that can fail).
 */
public final class WebClients implements AutoCloseable {
  private static final Duration ANSWER_TIMEOUT = Duration.ofMinutes(3);

  private final String name;
  private final Process process;
  private final PrintWriter input;
  private final BlockingQueue<String> answers = new LinkedBlockingQueue<>();
  private final Thread reader;

  private WebClients(String name, Process process, Samples samples) {
    this.name = name;
    this.process = process;
    this.input = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
    BufferedReader output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    this.reader = new Thread(() -> read(output, samples), "bench-" + name);
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts {@code node ws-clients.mjs}; its standard error goes to {@code log}. */
  public static WebClients start(String name, Path script, Samples samples, Path log) throws IOException {
    ProcessBuilder builder = new ProcessBuilder("node", script.toString())
        .redirectError(ProcessBuilder.Redirect.to(log.toFile()))
        .redirectOutput(ProcessBuilder.Redirect.PIPE);
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new IOException("the browsers scenario runs its clients with Node 20 ('node' on the PATH): " + e.getMessage(), e);
    }
    return new WebClients(name, process, samples);
  }

  /**
   * The client script, found from the working directory (the repository root, or the benchmarks
   * module) or from this class's location (benchmarks/target/classes), together with the built
   * client package it imports; fails naming what to build when it is missing.
   */
  public static Path script() {
    Path found = null;
    for (Path start : candidates()) {
      for (Path dir = start; dir != null && found == null; dir = dir.getParent()) {
        Path candidate = dir.resolve("benchmarks/js/ws-clients.mjs");
        if (Files.isRegularFile(candidate)) {
          found = candidate.toAbsolutePath().normalize();
        }
      }
    }
    if (found == null) {
      throw new IllegalStateException("benchmarks/js/ws-clients.mjs not found above " + candidates());
    }
    Path js = found.getParent().getParent().getParent().resolve("entanglement-js");
    for (String needed : new String[] {"dist/index.js", "node_modules/ws/wrapper.mjs",
        "node_modules/@bufbuild/protobuf/dist/esm/index.js"}) {
      if (!Files.isRegularFile(js.resolve(needed))) {
        throw new IllegalStateException("the browsers scenario needs the built client package: " + js.resolve(needed)
            + " is missing; run `mvn -B -DskipTests install` from the root (it builds entanglement-js) or"
            + " `npm ci && npm run build` in " + js);
      }
    }
    return found;
  }

  private static java.util.List<Path> candidates() {
    java.util.List<Path> starts = new java.util.ArrayList<>();
    starts.add(Path.of(System.getProperty("user.dir")).toAbsolutePath());
    try {
      starts.add(Path.of(WebClients.class.getProtectionDomain().getCodeSource().getLocation().toURI()));
    } catch (Exception e) {
      // only the working directory then
    }
    return starts;
  }

  private void read(BufferedReader output, Samples samples) {
    try {
      for (String line = output.readLine(); line != null; line = output.readLine()) {
        if (line.startsWith("s ")) {
          samples.parse(line);
        } else {
          answers.add(line);
        }
      }
    } catch (IOException e) {
      answers.add("error the output of " + name + " could not be read: " + e);
    }
    answers.add("error " + name + " ended (exit " + (process.isAlive() ? "?" : process.exitValue()) + ")");
  }

  /** Sends a command and returns its answer; fails on an {@code error} answer or none in time. */
  public String command(String command) {
    input.println(command);
    return answer(command, ANSWER_TIMEOUT);
  }

  /** Sends a command without waiting for its answer (then read it with {@link #answer}). */
  public void send(String command) {
    input.println(command);
  }

  /** The next answer; fails on an {@code error} answer or none within {@code timeout}. */
  public String answer(String what, Duration timeout) {
    String line;
    try {
      line = answers.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted waiting for " + name + " to answer '" + what + "'", e);
    }
    if (line == null) {
      throw new IllegalStateException(name + " did not answer '" + what + "' within " + timeout);
    }
    if (line.startsWith("error")) {
      throw new IllegalStateException(name + " answered '" + what + "' with: " + line);
    }
    return line;
  }

  /** The process's figures (see {@link Stats}). */
  public Stats stats() {
    String[] words = command("stats").split(" ");
    return new Stats(Long.parseLong(words[1]) + Long.parseLong(words[2]), Long.parseLong(words[3]),
        Long.parseLong(words[4]), Integer.parseInt(words[5]), Integer.parseInt(words[6]), Integer.parseInt(words[7]),
        Long.parseLong(words[8]), Long.parseLong(words[9]), Long.parseLong(words[10]), Long.parseLong(words[11]));
  }

  /**
   * A process's figures: CPU (user + system) in microseconds, RSS and V8 heap in bytes, its
   * entanglement clients connected now, their reconnections and errors so far, and the frames and
   * bytes its entanglement clients and its bare sockets received so far.
   */
  public record Stats(long cpuMicros, long rss, long heap, int connected, int reconnects, int errors,
      long entFrames, long entBytes, long rawFrames, long rawBytes) {}

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      input.println("quit");
      input.close();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * The receive samples of every process: which client showed which change when (epoch
   * microseconds), and how many arrived per change (in all, and from one client kept apart: the
   * one that stops reading). Preallocated for {@code capacity} samples and {@code changes} change
   * numbers; a sample beyond them fails the run (a bound, not a buffer that grows).
   */
  public static final class Samples {
    private final int[] client;
    private final int[] change;
    private final long[] micros;
    private final int[] perChange;
    private final int[] perChangeApart;
    private final int apart;
    private int size;

    public Samples(int capacity, int changes, int apart) {
      client = new int[capacity];
      change = new int[capacity];
      micros = new long[capacity];
      perChange = new int[changes];
      perChangeApart = new int[changes];
      this.apart = apart;
    }

    synchronized void parse(String line) {
      int a = line.indexOf(' ', 2);
      int b = line.indexOf(' ', a + 1);
      if (size == micros.length) {
        throw new IllegalStateException("more than " + micros.length + " receive samples: raise the capacity");
      }
      int c = Integer.parseInt(line, 2, a, 10);
      int n = Integer.parseInt(line, a + 1, b, 10);
      client[size] = c;
      change[size] = n;
      micros[size] = Long.parseLong(line, b + 1, line.length(), 10);
      size++;
      perChange[n]++;
      if (c == apart) {
        perChangeApart[n]++;
      }
    }

    /** Samples of changes {@code first} (inclusive) to {@code last}. */
    public synchronized long count(int first, int last) {
      long total = 0;
      for (int n = first; n < last; n++) {
        total += perChange[n];
      }
      return total;
    }

    /** Samples of changes {@code first} (inclusive) to {@code last}, but the client kept apart's. */
    public synchronized long countOthers(int first, int last) {
      long total = 0;
      for (int n = first; n < last; n++) {
        total += perChange[n] - perChangeApart[n];
      }
      return total;
    }

    /** Calls {@code each} for every sample of changes {@code first} (inclusive) to {@code last}. */
    public synchronized void forEach(int first, int last, Sample each) {
      for (int i = 0; i < size; i++) {
        if (change[i] >= first && change[i] < last) {
          each.accept(client[i], change[i], micros[i]);
        }
      }
    }

    @FunctionalInterface
    public interface Sample {
      void accept(int client, int change, long micros);
    }
  }
}
