package dev.entanglement.hibernate.spring;

import dev.entanglement.hibernate.EntanglementSettings;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The plugin's settings under {@code entanglement.*} in {@code application.yml}, each passed to
 * Hibernate under the {@link EntanglementSettings} key of the same name (the plugin checks every
 * value at boot and names the setting of a bad one). Settings without a field here go under
 * {@code entanglement.properties} with their full key, as in {@code persistence.xml}.
 *
 * <pre>{@code
 * entanglement:
 *   node:
 *     name: site-a
 *   listen: 127.0.0.1:7070
 *   peers: [127.0.0.1:7071]
 *   transport:
 *     plaintext: true
 * }</pre>
 */
@ConfigurationProperties("entanglement")
public class EntanglementProperties {
  private final Node node = new Node();
  /** Whether the plugin runs for the application's persistence unit (it needs entanglement.node.name too). */
  private boolean enabled = true;
  /** Where peers dial in: host:port (port 0 picks a free one) or inprocess:NAME. Opened when the context starts. */
  private String listen;
  /** The peers this node dials, host:port or inprocess:NAME each. */
  private List<String> peers = List.of();
  private final Transport transport = new Transport();
  private final Tls tls = new Tls();
  private final Admin admin = new Admin();
  private final Web web = new Web();
  private final Heartbeat heartbeat = new Heartbeat();
  private final Request request = new Request();
  private final Schema schema = new Schema();
  /** Any other plugin setting by its full key (entanglement.outbox.max_entries: 50000). */
  private Map<String, String> properties = new LinkedHashMap<>();

  /** The settings as Hibernate properties (keys of {@link EntanglementSettings}), those set only. */
  public Map<String, Object> toHibernateProperties() {
    Map<String, Object> settings = new LinkedHashMap<>(properties);
    put(settings, EntanglementSettings.NODE_NAME, node.name);
    settings.put(EntanglementSettings.ENABLED, enabled);
    put(settings, EntanglementSettings.LISTEN, listen);
    if (!peers.isEmpty()) {
      settings.put(EntanglementSettings.PEERS, String.join(",", peers));
    }
    settings.put(EntanglementSettings.PLAINTEXT, transport.plaintext);
    put(settings, EntanglementSettings.TLS_CERTIFICATE, tls.certificate);
    put(settings, EntanglementSettings.TLS_PRIVATE_KEY, tls.privateKey);
    put(settings, EntanglementSettings.TLS_TRUST, tls.trust);
    put(settings, EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, tls.trustedFingerprints);
    put(settings, EntanglementSettings.ADMIN_LISTEN, admin.listen);
    put(settings, EntanglementSettings.ADMIN_TOKEN, admin.token);
    put(settings, EntanglementSettings.ADMIN_TOKEN_FILE, admin.tokenFile);
    put(settings, EntanglementSettings.WEB_LISTEN, web.listen);
    put(settings, EntanglementSettings.HEARTBEAT_INTERVAL_MS, heartbeat.intervalMs);
    put(settings, EntanglementSettings.HEARTBEAT_TIMEOUT_MS, heartbeat.timeoutMs);
    put(settings, EntanglementSettings.REQUEST_LIFETIME, request.lifetime);
    settings.put(EntanglementSettings.SCHEMA_MIGRATE, schema.migrate);
    return settings;
  }

  private static void put(Map<String, Object> settings, String key, Object value) {
    if (value != null) {
      settings.put(key, value);
    }
  }

  public Node getNode() {
    return node;
  }

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public String getListen() {
    return listen;
  }

  public void setListen(String listen) {
    this.listen = listen;
  }

  public List<String> getPeers() {
    return peers;
  }

  public void setPeers(List<String> peers) {
    this.peers = List.copyOf(peers);
  }

  public Transport getTransport() {
    return transport;
  }

  public Tls getTls() {
    return tls;
  }

  public Admin getAdmin() {
    return admin;
  }

  public Web getWeb() {
    return web;
  }

  public Heartbeat getHeartbeat() {
    return heartbeat;
  }

  public Request getRequest() {
    return request;
  }

  public Schema getSchema() {
    return schema;
  }

  public Map<String, String> getProperties() {
    return properties;
  }

  public void setProperties(Map<String, String> properties) {
    this.properties = new LinkedHashMap<>(properties);
  }

  public static class Node {
    /** This node's name, unique among the nodes it replicates with; setting it enables the plugin. */
    private String name;

    public String getName() {
      return name;
    }

    public void setName(String name) {
      this.name = name;
    }
  }

  public static class Transport {
    /** TCP without TLS, for loopback tests and demos on a trusted network only. */
    private boolean plaintext;

    public boolean isPlaintext() {
      return plaintext;
    }

    public void setPlaintext(boolean plaintext) {
      this.plaintext = plaintext;
    }
  }

  public static class Tls {
    /** This node's certificate chain (PEM file). */
    private String certificate;
    /** This node's private key (PEM file, PKCS#8). */
    private String privateKey;
    /** The CA certificates peers' certificates are checked against (PEM file). */
    private String trust;
    /** SHA-256 fingerprints of trusted peer certificates, comma separated (instead of trust). */
    private String trustedFingerprints;

    public String getCertificate() {
      return certificate;
    }

    public void setCertificate(String certificate) {
      this.certificate = certificate;
    }

    public String getPrivateKey() {
      return privateKey;
    }

    public void setPrivateKey(String privateKey) {
      this.privateKey = privateKey;
    }

    public String getTrust() {
      return trust;
    }

    public void setTrust(String trust) {
      this.trust = trust;
    }

    public String getTrustedFingerprints() {
      return trustedFingerprints;
    }

    public void setTrustedFingerprints(String trustedFingerprints) {
      this.trustedFingerprints = trustedFingerprints;
    }
  }

  public static class Admin {
    /** Where the admin API (gRPC, with health and reflection) listens, host:port. */
    private String listen;
    /** The bearer token admin calls present, at least 16 characters. */
    private String token;
    /** A file holding the admin bearer token. */
    private String tokenFile;

    public String getListen() {
      return listen;
    }

    public void setListen(String listen) {
      this.listen = listen;
    }

    public String getToken() {
      return token;
    }

    public void setToken(String token) {
      this.token = token;
    }

    public String getTokenFile() {
      return tokenFile;
    }

    public void setTokenFile(String tokenFile) {
      this.tokenFile = tokenFile;
    }
  }

  public static class Web {
    /** Where browsers connect (WebSocket), host:port. */
    private String listen;

    public String getListen() {
      return listen;
    }

    public void setListen(String listen) {
      this.listen = listen;
    }
  }

  public static class Heartbeat {
    /** Milliseconds between heartbeats on a quiet stream (default 5000). */
    private Integer intervalMs;
    /** Milliseconds of silence after which a stream is closed as dead (default 15000). */
    private Integer timeoutMs;

    public Integer getIntervalMs() {
      return intervalMs;
    }

    public void setIntervalMs(Integer intervalMs) {
      this.intervalMs = intervalMs;
    }

    public Integer getTimeoutMs() {
      return timeoutMs;
    }

    public void setTimeoutMs(Integer timeoutMs) {
      this.timeoutMs = timeoutMs;
    }
  }

  public static class Request {
    /** How long an update request is kept while its owner is unreachable (6h, 30m, PT6H). */
    private String lifetime;

    public String getLifetime() {
      return lifetime;
    }

    public void setLifetime(String lifetime) {
      this.lifetime = lifetime;
    }
  }

  public static class Schema {
    /** Whether the plugin creates and migrates its own tables at boot (Flyway). */
    private boolean migrate = true;

    public boolean isMigrate() {
      return migrate;
    }

    public void setMigrate(boolean migrate) {
      this.migrate = migrate;
    }
  }
}
