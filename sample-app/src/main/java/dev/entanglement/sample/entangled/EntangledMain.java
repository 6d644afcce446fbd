package dev.entanglement.sample.entangled;

import dev.entanglement.hibernate.EntanglementSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code entangled}: one node of the two-node configuration-file replicator.
 *
 * <pre>
 * mvn -q -pl sample-app exec:java -Dexec.args="entangled --node a --listen 127.0.0.1:7001 --peer 127.0.0.1:7002 \
 *     --data-dir /var/lib/entangled --file /etc/app/app.conf --file /etc/app/users.conf --plaintext"
 * </pre>
 */
@Command(name = "entangled", mixinStandardHelpOptions = true,
    description = "Keeps configuration files aligned between two nodes; split-brain is reported, not guessed.")
public final class EntangledMain implements Callable<Integer> {
  @Option(names = "--node", required = true, description = "this node's name")
  String node;

  @Option(names = "--listen", required = true, description = "host:port for the other node (gRPC)")
  String listen;

  @Option(names = "--peer", description = "the other node's host:port (at least one of the two dials)")
  String peer;

  @Option(names = "--data-dir", required = true, description = "where this node keeps its database")
  Path dataDir;

  @Option(names = "--root", defaultValue = "/",
      description = "files are known to both nodes by their path under this directory (default ${DEFAULT-VALUE})")
  Path root;

  @Option(names = "--file", required = true, description = "a file to keep aligned (repeat the option; files only)")
  List<Path> files;

  @Option(names = "--http-port", defaultValue = "9876", description = "the management HTTP API's port (default ${DEFAULT-VALUE})")
  int httpPort;

  @Option(names = "--scan-interval-ms", defaultValue = "1000",
      description = "how often every file is checked besides file-system notifications (default ${DEFAULT-VALUE})")
  long scanIntervalMs;

  @Option(names = "--plaintext", description = "unencrypted gRPC (a trusted network only)")
  boolean plaintext;

  @Option(names = "--tls-cert", description = "this node's certificate (PEM)")
  Path tlsCertificate;

  @Option(names = "--tls-key", description = "its PKCS#8 private key (PEM)")
  Path tlsKey;

  @Option(names = "--tls-trust", description = "the CA certificates to trust (PEM)")
  Path tlsTrust;

  public static void main(String[] args) {
    dev.entanglement.sample.SampleApp.quietLogging();
    System.exit(run(args));
  }

  public static int run(String[] args) {
    return new CommandLine(new EntangledMain()).execute(args);
  }

  @Override
  public Integer call() throws Exception {
    Map<String, String> transport = new HashMap<>();
    if (plaintext) {
      transport.put(EntanglementSettings.PLAINTEXT, "true");
    }
    if (tlsCertificate != null) {
      transport.put(EntanglementSettings.TLS_CERTIFICATE, tlsCertificate.toString());
    }
    if (tlsKey != null) {
      transport.put(EntanglementSettings.TLS_PRIVATE_KEY, tlsKey.toString());
    }
    if (tlsTrust != null) {
      transport.put(EntanglementSettings.TLS_TRUST, tlsTrust.toString());
    }
    EntangledNode started;
    try {
      started = EntangledNode.start(new EntangledNode.Options(node, listen, peer, dataDir, root, files, httpPort,
          Duration.ofMillis(scanIntervalMs), transport), System.out::println);
    } catch (IllegalArgumentException e) {
      System.err.println("entangled: " + e.getMessage());
      return 2;
    }
    System.out.printf("entangled node '%s': files %s; HTTP API on http://127.0.0.1:%d/api/1/state (docs: /api/1/docs)%n",
        node, files, started.httpPort());
    Runtime.getRuntime().addShutdownHook(new Thread(started::close, "entangled-shutdown"));
    new CountDownLatch(1).await();
    return 0;
  }
}
