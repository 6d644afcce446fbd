package dev.entanglement.sample.entangled;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Level;
import java.util.logging.SimpleFormatter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code entangled} command: one node of a two-node configuration-file replicator.
 *
 * <pre>
 * entangled --node a --listen 127.0.0.1:7001 --data-dir /var/lib/entangled --file /etc/app.conf --plaintext
 * entangled --node b --peer 127.0.0.1:7001 --http-port 9877 --data-dir /var/lib/entangled-b --file /etc/app.conf --plaintext
 * </pre>
 *
 * Options may also come from a file, one per line: {@code entangled @node-a.args}. It runs until
 * Ctrl-C; a refused configuration exits with status 2 and a message saying what to fix.
 */
@Command(name = "entangled", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Keeps configuration files aligned between two nodes; management API on --http-port.",
    footer = "%nOptions can also be read from a file: entangled @FILE (one option per line).")
public final class EntangledMain implements Callable<Integer> {
  // java.util.logging holds loggers weakly: keep the ones configured here
  private static final List<java.util.logging.Logger> CONFIGURED_LOGGERS = new ArrayList<>();

  @Option(names = "--node", required = true, paramLabel = "NAME",
      description = "This node's name: 1-64 of A-Z a-z 0-9 . _ - (with TLS, its certificate's CN).")
  String node;

  @Option(names = "--listen", paramLabel = "HOST:PORT", description = "Accept the peer here.")
  String listen;

  @Option(names = "--peer", paramLabel = "HOST:PORT",
      description = "Dial the peer here (one side dialing is enough). Repeatable.")
  List<String> peers = new ArrayList<>();

  @Option(names = "--http-host", defaultValue = "127.0.0.1", paramLabel = "HOST",
      description = "Interface of the management API (default: ${DEFAULT-VALUE}; it has no authentication).")
  String httpHost;

  @Option(names = "--http-port", defaultValue = "9876", paramLabel = "PORT",
      description = "Port of the management API (default: ${DEFAULT-VALUE}; 0: any free port).")
  int httpPort;

  @Option(names = "--data-dir", required = true, paramLabel = "DIR",
      description = "Where this node keeps its database.")
  Path dataDir;

  @Option(names = "--root", defaultValue = "/", paramLabel = "DIR",
      description = "Files are named in the cluster by their path under this directory (default: ${DEFAULT-VALUE}).")
  Path root;

  @Option(names = "--file", required = true, paramLabel = "FILE",
      description = "A file to keep aligned (never a directory). Repeatable.")
  List<Path> files = new ArrayList<>();

  @Option(names = "--scan-interval-ms", defaultValue = "5000", paramLabel = "MS",
      description = "Recompute every file's MD5 this often, behind the watch service (default: ${DEFAULT-VALUE}).")
  long scanIntervalMs;

  @Option(names = "--plaintext",
      description = "Unencrypted gRPC between the nodes: loopback or a trusted network only (otherwise --tls-*).")
  boolean plaintext;

  @Option(names = "--tls-cert", paramLabel = "PEM", description = "This node's certificate (mutual TLS).")
  Path tlsCertificate;

  @Option(names = "--tls-key", paramLabel = "PEM", description = "Its private key, PKCS#8.")
  Path tlsPrivateKey;

  @Option(names = "--tls-trust", paramLabel = "PEM", description = "The CA certificates trusted for the peer.")
  Path tlsTrust;

  @Option(names = "--tls-trusted-fingerprints", paramLabel = "SHA256[,...]",
      description = "Pinned SHA-256 fingerprints of trusted peer certificates.")
  String tlsTrustedFingerprints;

  @Option(names = "--admin-listen", paramLabel = "HOST:PORT",
      description = "Serve the plugin's admin gRPC API here (peers, objects, resync; needs --admin-token-file).")
  String adminListen;

  @Option(names = "--admin-token-file", paramLabel = "FILE", description = "The admin API's bearer token.")
  Path adminTokenFile;

  @Option(names = "--setting", paramLabel = "KEY=VALUE",
      description = "Any further plugin or Hibernate setting, e.g. entanglement.reconnect.max_delay_ms=2000. Repeatable.")
  Map<String, String> settings = new LinkedHashMap<>();

  private PrintStream out = System.out;
  private PrintStream err = System.err;

  public static void main(String[] args) {
    configureLogging();
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Runs a node until it is stopped (Ctrl-C, or an interrupt of the calling thread); returns the
   * exit status: 0 after a stop, 2 for a refused command line or configuration.
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    EntangledMain main = new EntangledMain();
    main.out = out;
    main.err = err;
    CommandLine command = new CommandLine(main);
    command.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
    command.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
    return command.execute(args);
  }

  /** The configuration a command line describes, without starting anything. */
  public static EntangledConfig parse(String... args) {
    EntangledMain main = new EntangledMain();
    new CommandLine(main).parseArgs(args);
    return main.config();
  }

  EntangledConfig config() {
    return new EntangledConfig(node, listen, peers, httpHost, httpPort, dataDir, root, files,
        Duration.ofMillis(scanIntervalMs), tlsCertificate, tlsPrivateKey, tlsTrust,
        tlsTrustedFingerprints, plaintext, adminListen, adminTokenFile, settings);
  }

  @Override
  public Integer call() {
    EntangledNode running;
    try {
      running = EntangledNode.start(config());
    } catch (RuntimeException e) {
      Throwable refusal = configurationProblem(e);
      if (refusal == null) {
        throw e;
      }
      err.println("entangled: " + refusal.getMessage());
      return 2;
    }
    out.printf("entangled node '%s' is running: management API %sstate (API page %sdocs). Ctrl-C stops it.%n",
        running.nodeName(), running.apiUrl(), running.apiUrl());
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      running.close();
      stopped.countDown();
    }, "entangled-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      stopped.await();
    } catch (InterruptedException e) {
      // stopped by the program that runs this node (a test, another main)
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs anyway
      }
      running.close();
      Thread.currentThread().interrupt();
    }
    return 0;
  }

  /** The refused setting behind a failed start (Hibernate wraps the plugin's), or null. */
  private static Throwable configurationProblem(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof EntangledConfigException || cause instanceof EntanglementConfigurationException) {
        return cause;
      }
    }
    return null;
  }

  /**
   * The plugin and Hibernate log through JBoss Logging to java.util.logging, on one line each:
   * warnings, and the information of this package (files changed, written, in split-brain) and
   * of the plugin (peers connected and lost).
   */
  public static void configureLogging() {
    System.setProperty("org.jboss.logging.provider", "jdk");
    System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT %4$s %3$s: %5$s%6$s%n");
    java.util.logging.Logger root = java.util.logging.Logger.getLogger("");
    root.setLevel(Level.WARNING);
    for (var handler : root.getHandlers()) {
      handler.setLevel(Level.INFO);
      handler.setFormatter(new SimpleFormatter()); // reads the format set above
    }
    java.util.logging.Logger own = java.util.logging.Logger.getLogger("dev.entanglement");
    own.setLevel(Level.INFO);
    java.util.logging.Logger hibernate = java.util.logging.Logger.getLogger("org.hibernate");
    hibernate.setLevel(Level.SEVERE); // its connection pool warning is expected here
    CONFIGURED_LOGGERS.add(root);
    CONFIGURED_LOGGERS.add(own);
    CONFIGURED_LOGGERS.add(hibernate);
  }
}
