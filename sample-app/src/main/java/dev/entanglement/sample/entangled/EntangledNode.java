package dev.entanglement.sample.entangled;

import dev.entanglement.hibernate.Entanglement;
import jakarta.persistence.EntityManagerFactory;
import jakarta.persistence.Persistence;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * One running node: its persistence unit (H2 under the data directory, the plugin connecting it
 * to the peer), the {@link FileReplicator} and the {@link ManagementApi}. Closing it stops all
 * three; the database and the files stay.
 */
public final class EntangledNode implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(EntangledNode.class);
  static final String UNIT = "entangled"; // META-INF/persistence.xml

  private final EntangledConfig config;
  private final EntityManagerFactory factory;
  private final FileReplicator replicator;
  private final ManagementApi api;

  private EntangledNode(EntangledConfig config, EntityManagerFactory factory, FileReplicator replicator,
      ManagementApi api) {
    this.config = config;
    this.factory = factory;
    this.replicator = replicator;
    this.api = api;
  }

  /**
   * Checks the configuration, opens the database, registers the files and starts the API.
   *
   * @throws EntangledConfigException if the configuration is refused (a directory in the list,
   *     a file outside the root, no way to reach the peer, a busy HTTP port...)
   * @throws dev.entanglement.hibernate.EntanglementConfigurationException for a bad plugin
   *     setting (node name, addresses, TLS files)
   */
  public static EntangledNode start(EntangledConfig config) {
    Map<String, Path> files = config.listedFiles();
    Map<String, Object> settings = config.persistenceSettings();
    try {
      Files.createDirectories(config.dataDir());
    } catch (IOException e) {
      throw new EntangledConfigException("--data-dir " + config.dataDir() + ": cannot create it (" + e + ")", e);
    }
    if (config.plaintext()) {
      LOG.warnf("node '%s' talks to its peer over plaintext gRPC (--plaintext): for loopback or a trusted network"
          + " only", config.nodeName());
    }
    EntityManagerFactory factory = Persistence.createEntityManagerFactory(UNIT, settings);
    FileReplicator replicator = null;
    try {
      replicator = new FileReplicator(config.nodeName(), factory, files, config.scanInterval());
      replicator.start();
      ManagementApi api = ManagementApi.start(config.nodeName(), config.httpHost(), config.httpPort(), replicator);
      return new EntangledNode(config, factory, replicator, api);
    } catch (IOException | RuntimeException e) {
      if (replicator != null) {
        replicator.close();
      }
      factory.close();
      if (e instanceof IOException io) {
        throw new UncheckedIOException("node '" + config.nodeName() + "' cannot watch its files: " + io, io);
      }
      throw (RuntimeException) e;
    }
  }

  public String nodeName() {
    return config.nodeName();
  }

  /** The port of the management API (the actual one when 0 was asked for). */
  public int httpPort() {
    return api.port();
  }

  /** The management API's base address, e.g. {@code http://127.0.0.1:9876/api/1/}. */
  public String apiUrl() {
    String host = config.httpHost().contains(":") ? "[" + config.httpHost() + "]" : config.httpHost();
    return "http://" + host + ":" + httpPort() + ManagementApi.BASE;
  }

  /** The plugin's view of this node: its listen address, its connected peers. */
  public Entanglement entanglement() {
    return Entanglement.of(factory);
  }

  @Override
  public void close() {
    api.close();
    replicator.close();
    if (factory.isOpen()) {
      factory.close();
    }
  }
}
