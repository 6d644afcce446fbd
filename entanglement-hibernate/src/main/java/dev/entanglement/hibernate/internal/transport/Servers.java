package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * The node's servers: replication (where peers dial in) and admin (the admin service with
 * gRPC health and reflection), each started only when its address is configured, and the member
 * link (where the node's other application instances reach the one holding its links).
 *
 * <h2>Concurrency</h2>
 * Started and stopped on the thread that builds or closes the SessionFactory; the server fields
 * are volatile so that address queries from other threads see them.
 */
public final class Servers {
  private static final Logger LOG = Logger.getLogger(Servers.class);

  private final String nodeName;
  private final TlsConfig tls;
  private volatile Server replication;
  private volatile PeerAddress replicationAddress;
  private volatile Server admin;
  private volatile PeerAddress adminAddress;
  private volatile Server members;
  private volatile WebServer web;
  private volatile PeerAddress webAddress;

  public Servers(String nodeName, TlsConfig tls) {
    this.nodeName = nodeName;
    this.tls = tls;
  }

  /** Serves replication on {@code address}; fails naming {@code entanglement.listen}. */
  public void startReplication(PeerAddress address, ReplicationService service) {
    try {
      replication = Transports.startServer(nodeName, address, service, tls);
      replicationAddress = address;
    } catch (IOException e) {
      throw new EntanglementConfigurationException("Setting entanglement.listen has the value '%s', ".formatted(address)
          + "but the node could not listen there: " + e.getMessage(), e);
    }
    LOG.infof("Entanglement node '%s' listens on %s", nodeName, replicationAddress().orElse("?"));
  }

  /**
   * Serves browsers on {@code address} (TLS with the node's certificate when it has one); fails
   * naming {@code entanglement.web.listen}.
   */
  public void startWeb(PeerAddress address, WebServer server) {
    try {
      server.start(address.host(), address.port());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new EntanglementConfigurationException("interrupted while binding entanglement.web.listen " + address, e);
    } catch (Exception e) { // Netty throws the bind's IOException undeclared
      throw new EntanglementConfigurationException("Setting entanglement.web.listen has the value '%s', ".formatted(address)
          + "but the node could not listen there: " + e, e);
    }
    web = server;
    webAddress = address;
    LOG.infof("Entanglement node '%s' serves browsers on %s", nodeName, webAddress().orElse("?"));
  }

  /** Where browsers connect ({@code host:port} with the port actually bound). */
  public Optional<String> webAddress() {
    WebServer server = web;
    return server == null ? Optional.empty() : Optional.of(new PeerAddress(webAddress.host(), server.port()).toString());
  }

  /**
   * Reflection as {@code grpc.reflection.v1alpha}: deprecated in grpc-java for v1, but common
   * clients (older grpcurl, IDE plugins) still ask it first and report "no reflection" otherwise.
   */
  @SuppressWarnings("deprecation")
  private static ServerServiceDefinition reflectionV1alpha() {
    return io.grpc.protobuf.services.ProtoReflectionService.newInstance().bindService();
  }

  /** Serves the (already access-controlled) admin service with health and reflection (v1 and v1alpha). */
  public void startAdmin(PeerAddress address, ServerServiceDefinition adminService, String adminServiceName) {
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(adminServiceName, ServingStatus.SERVING);
    List<ServerServiceDefinition> services = List.of(adminService, health.getHealthService().bindService(),
        ProtoReflectionServiceV1.newInstance().bindService(), reflectionV1alpha());
    try {
      admin = Transports.startServer(nodeName + " (admin)", address, services, tls == null ? null : tls.adminServerContext());
      adminAddress = address;
    } catch (IOException e) {
      throw new EntanglementConfigurationException("Setting entanglement.admin.listen has the value '%s', "
          .formatted(address) + "but the node could not listen there: " + e.getMessage(), e);
    }
    LOG.infof("Entanglement node '%s' serves its admin API on %s", nodeName, adminAddress().orElse("?"));
  }

  /**
   * Serves the member link on {@code address}; returns the address other members dial:
   * {@code advertise} when set, else the bound address (a wildcard host replaced by this host's
   * address). Fails naming {@code entanglement.member.listen}.
   */
  public String startMembers(PeerAddress address, ServerServiceDefinition service, Optional<String> advertise) {
    try {
      members = Transports.startServer(nodeName + " (members)", address, List.of(service),
          tls == null ? null : tls.serverContext());
    } catch (IOException e) {
      throw new EntanglementConfigurationException("Setting entanglement.member.listen has the value '%s', "
          .formatted(address) + "but the node could not listen there: " + e.getMessage(), e);
    }
    if (advertise.isPresent()) {
      return advertise.get();
    }
    if (!address.isNetwork()) {
      return address.toString();
    }
    String host = address.host();
    if (host.equals("0.0.0.0") || host.equals("::") || host.isEmpty()) {
      try {
        host = java.net.InetAddress.getLocalHost().getHostAddress();
      } catch (java.net.UnknownHostException e) {
        host = "127.0.0.1";
      }
    }
    return new PeerAddress(host, members.getPort()).toString();
  }

  /** The address replication listens on, with the port actually bound. */
  public Optional<String> replicationAddress() {
    Server server = replication;
    if (server == null) {
      return Optional.empty();
    }
    if (!replicationAddress.isNetwork()) {
      return Optional.of(replicationAddress.toString());
    }
    InetSocketAddress bound = (InetSocketAddress) server.getListenSockets().get(0);
    return Optional.of(new PeerAddress(replicationAddress.host(), bound.getPort()).toString());
  }

  /** Where the admin server listens, with the port actually bound. */
  public Optional<String> adminAddress() {
    Server server = admin;
    if (server == null) {
      return Optional.empty();
    }
    return Optional.of(adminAddress.isNetwork() ? adminAddress.host() + ":" + server.getPort() : adminAddress.toString());
  }

  /** Ends the member link at once (this member no longer holds the node's links). */
  public void stopMembers() {
    if (members != null) {
      members.shutdownNow();
    }
  }

  /**
   * Closes the replication, admin and browser servers and ends their streams (the member link
   * stays); they can be started again.
   */
  public void stopServing() {
    Server replicationServer = replication;
    Server adminServer = admin;
    WebServer webServer = web;
    replication = null;
    admin = null;
    web = null;
    try {
      if (replicationServer != null) {
        replicationServer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      if (adminServer != null) {
        adminServer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (webServer != null) {
      webServer.stop();
    }
  }

  /** Stops accepting streams (the open ones end with their connections). */
  public void shutdown() {
    if (replication != null) {
      replication.shutdown();
    }
    if (admin != null) {
      admin.shutdownNow();
    }
    if (members != null) {
      members.shutdownNow();
    }
    if (web != null) {
      web.stop();
    }
  }

  /** Waits for the replication server to end, forcing it after 5 s. */
  public void awaitTermination() throws InterruptedException {
    if (replication != null && !replication.awaitTermination(5, TimeUnit.SECONDS)) {
      replication.shutdownNow();
    }
  }
}
