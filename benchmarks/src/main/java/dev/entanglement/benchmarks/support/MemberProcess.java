package dev.entanglement.benchmarks.support;

import dev.entanglement.benchmarks.model.BenchItem;
import dev.entanglement.hibernate.EntanglementSettings;
import java.io.PrintWriter;
import java.util.UUID;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A member of a node in a JVM of its own, so that a scenario can SIGKILL it: the way a link
 * holder dies in production (nothing released, the lease only ages). The child boots a
 * {@link Node} on the given database, prints {@value #READY} once it serves, commits a
 * {@link BenchItem} for each line {@code insert <uuid>} on its standard input (answering
 * {@code inserted}), and runs until it is killed or its standard input closes. A member that
 * takes the links over in a JVM of its own starts them cold (classes loaded, code not yet
 * compiled), as in production.
 */
public final class MemberProcess implements AutoCloseable {
  static final String READY = "member-ready";

  private final Process process;
  private final BufferedReader output;
  private final PrintWriter input;

  private MemberProcess(Process process, BufferedReader output) {
    this.process = process;
    this.output = output;
    this.input = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
  }

  /** Commits one {@link BenchItem} with this id in the member, and returns once it is committed. */
  public void insert(UUID id) throws IOException {
    input.println("insert " + id);
    String line;
    while ((line = output.readLine()) != null) {
      if (line.equals("inserted " + id)) {
        return;
      }
    }
    throw new IllegalStateException("the member process ended before it committed " + id);
  }

  /**
   * Starts a member of node {@code name} on {@code db} in a new JVM with the same classpath (also
   * under {@code mvn exec:java}, whose class loader holds the benchmark's classpath), and waits
   * until it has booted.
   */
  public static MemberProcess start(String name, DbSettings db, Map<String, String> properties) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse("java"));
    command.add("-Xmx256m");
    command.add("-cp");
    command.add(classpath());
    command.add(MemberProcess.class.getName());
    command.add(name);
    command.add(db.url());
    command.add(db.user());
    command.add(db.password());
    properties.forEach((key, value) -> command.add(key + "=" + value));
    Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD)
        .redirectOutput(ProcessBuilder.Redirect.PIPE).start();
    BufferedReader output = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    StringBuilder seen = new StringBuilder();
    String line;
    while ((line = output.readLine()) != null) {
      if (line.equals(READY)) {
        return new MemberProcess(process, output);
      }
      if (seen.length() < 20_000) {
        seen.append(line).append('\n');
      }
    }
    throw new IllegalStateException("the member process ended before it served:\n" + seen);
  }

  /** SIGKILL, and waits until the process is gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }

  private static String classpath() {
    Set<String> entries = new LinkedHashSet<>();
    for (ClassLoader loader = MemberProcess.class.getClassLoader(); loader != null; loader = loader.getParent()) {
      if (loader instanceof URLClassLoader urls) {
        for (URL url : urls.getURLs()) {
          try {
            entries.add(Path.of(url.toURI()).toString());
          } catch (Exception e) {
            throw new IllegalStateException("unexpected classpath entry " + url, e);
          }
        }
      }
    }
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (!entry.isBlank()) {
        entries.add(entry);
      }
    }
    return String.join(File.pathSeparator, entries);
  }

  /** The child: args are node name, JDBC URL, user, password, then key=value settings. */
  public static void main(String[] args) throws IOException {
    DbSettings db = new DbSettings(Db.POSTGRESQL, args[0], args[1], args[2], args[3]);
    Map<String, String> properties = new java.util.LinkedHashMap<>();
    for (int i = 4; i < args.length; i++) {
      int equals = args[i].indexOf('=');
      properties.put(args[i].substring(0, equals), args[i].substring(equals + 1));
    }
    properties.putIfAbsent(EntanglementSettings.PLAINTEXT, "true");
    // the parent reads only its own lines: the plugin's log goes to standard error, dropped
    System.setErr(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
    Node node = Node.start(args[0], db, properties);
    System.out.println(READY);
    System.out.flush();
    BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String command;
    int n = 0;
    while ((command = commands.readLine()) != null) { // until the parent closes the pipe or kills this process
      if (command.startsWith("insert ")) {
        UUID id = UUID.fromString(command.substring("insert ".length()));
        int value = n++;
        node.inTransaction(em -> em.persist(new BenchItem(id, value)));
        System.out.println("inserted " + id);
        System.out.flush();
      }
    }
    node.close();
  }
}
