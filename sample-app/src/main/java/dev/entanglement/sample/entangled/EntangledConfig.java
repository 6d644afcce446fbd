package dev.entanglement.sample.entangled;

import dev.entanglement.hibernate.EntanglementSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How one node runs, as given on the command line ({@link EntangledMain}). Immutable; checked by
 * {@link #listedFiles()} and {@link #persistenceSettings()} when the node starts.
 *
 * @param nodeName this node's name (with TLS, its certificate's CN)
 * @param listen {@code host:port} to accept the peer on, or null
 * @param peers addresses to dial (one side dialing is enough)
 * @param httpHost the management API's interface
 * @param httpPort the management API's port (0: any free port)
 * @param dataDir where the node's H2 database lives
 * @param root the directory the files' cluster-wide names are relative to
 * @param files the files to keep aligned
 * @param scanInterval how often every file's checksum is recomputed (the watch service's safety net)
 * @param tlsCertificate this node's certificate (PEM) for mutual TLS; all four TLS values null: plaintext
 * @param tlsPrivateKey its private key (PEM, PKCS#8)
 * @param tlsTrust the CA certificates trusted for the peer (PEM)
 * @param tlsTrustedFingerprints pinned SHA-256 fingerprints of trusted peer certificates, comma separated
 * @param plaintext unencrypted gRPC between the nodes, chosen explicitly (instead of TLS)
 * @param adminListen where the plugin's admin gRPC API listens, or null for none
 * @param adminTokenFile the file with the admin API's bearer token, or null
 * @param settings further persistence-unit properties (plugin and Hibernate settings), last word
 */
public record EntangledConfig(
    String nodeName,
    String listen,
    List<String> peers,
    String httpHost,
    int httpPort,
    Path dataDir,
    Path root,
    List<Path> files,
    Duration scanInterval,
    Path tlsCertificate,
    Path tlsPrivateKey,
    Path tlsTrust,
    String tlsTrustedFingerprints,
    boolean plaintext,
    String adminListen,
    Path adminTokenFile,
    Map<String, String> settings) {

  public EntangledConfig {
    peers = List.copyOf(peers);
    files = List.copyOf(files);
    settings = Map.copyOf(settings);
  }

  /** Whether any TLS option was given: then the nodes talk mutual TLS, otherwise plaintext. */
  public boolean tls() {
    return tlsCertificate != null || tlsPrivateKey != null || tlsTrust != null || tlsTrustedFingerprints != null;
  }

  /**
   * The listed files by their cluster-wide name ({@code "/" +} the path under {@link #root}), in
   * the order listed.
   *
   * @throws EntangledConfigException for a directory, a file outside the root, a file whose
   *     directory does not exist, or a file listed twice
   */
  public Map<String, Path> listedFiles() {
    if (files.isEmpty()) {
      throw new EntangledConfigException("--file: list at least one file to keep aligned");
    }
    Path absoluteRoot = root.toAbsolutePath().normalize();
    if (!Files.isDirectory(absoluteRoot)) {
      throw new EntangledConfigException("--root " + root + ": not a directory (expected the directory the listed"
          + " files' names are relative to, '/' by default)");
    }
    Map<String, Path> listed = new LinkedHashMap<>();
    for (Path given : files) {
      Path file = given.toAbsolutePath().normalize();
      if (Files.isDirectory(file)) {
        throw new EntangledConfigException("--file " + given + ": is a directory; entangled keeps single files"
            + " aligned, never directories (list the files inside it one by one)");
      }
      if (!file.startsWith(absoluteRoot) || file.equals(absoluteRoot)) {
        throw new EntangledConfigException("--file " + given + ": is not under --root " + absoluteRoot
            + " (the files' names in the cluster are their paths under the root)");
      }
      Path directory = file.getParent();
      if (!Files.isDirectory(directory)) {
        throw new EntangledConfigException("--file " + given + ": its directory " + directory
            + " does not exist (a missing file is fine, a missing directory is not: it cannot be watched)");
      }
      String name = "/" + absoluteRoot.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
      if (listed.putIfAbsent(name, file) != null) {
        throw new EntangledConfigException("--file " + given + ": listed twice (as " + name + ")");
      }
    }
    return listed;
  }

  /** The properties that make this node's persistence unit. */
  public Map<String, Object> persistenceSettings() {
    if (listen == null && peers.isEmpty()) {
      throw new EntangledConfigException("--listen and --peer: give at least one, so that the two nodes can"
          + " reach each other (one listens, the other dials it; both may do both)");
    }
    if (httpPort < 0 || httpPort > 65535) {
      throw new EntangledConfigException("--http-port " + httpPort + ": expected a port from 0 to 65535 (0: any free port)");
    }
    if (scanInterval.isNegative() || scanInterval.isZero()) {
      throw new EntangledConfigException("--scan-interval-ms " + scanInterval.toMillis()
          + ": expected a positive number of milliseconds");
    }
    Map<String, Object> properties = new HashMap<>();
    properties.put("jakarta.persistence.jdbc.url",
        "jdbc:h2:file:" + dataDir.toAbsolutePath().normalize().resolve("entangled") + ";WRITE_DELAY=0");
    properties.put(EntanglementSettings.NODE_NAME, nodeName);
    if (listen != null) {
      properties.put(EntanglementSettings.LISTEN, listen);
    }
    if (!peers.isEmpty()) {
      properties.put(EntanglementSettings.PEERS, String.join(",", peers));
    }
    if (tls() && plaintext) {
      throw new EntangledConfigException("--plaintext and --tls-*: choose one (mutual TLS, or unencrypted gRPC on a"
          + " trusted network)");
    }
    if (!tls() && !plaintext) {
      throw new EntangledConfigException("no transport security chosen: give --tls-cert, --tls-key and --tls-trust"
          + " (mutual TLS), or --plaintext (unencrypted: loopback or a trusted network only)");
    }
    if (adminListen != null) {
      properties.put(EntanglementSettings.ADMIN_LISTEN, adminListen);
    }
    putIfGiven(properties, EntanglementSettings.ADMIN_TOKEN_FILE, adminTokenFile);
    if (tls()) {
      putIfGiven(properties, EntanglementSettings.TLS_CERTIFICATE, tlsCertificate);
      putIfGiven(properties, EntanglementSettings.TLS_PRIVATE_KEY, tlsPrivateKey);
      putIfGiven(properties, EntanglementSettings.TLS_TRUST, tlsTrust);
      putIfGiven(properties, EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, tlsTrustedFingerprints);
    } else {
      properties.put(EntanglementSettings.PLAINTEXT, "true");
    }
    properties.putAll(settings);
    return properties;
  }

  private static void putIfGiven(Map<String, Object> properties, String key, Object value) {
    if (value != null) {
      properties.put(key, value.toString());
    }
  }
}
