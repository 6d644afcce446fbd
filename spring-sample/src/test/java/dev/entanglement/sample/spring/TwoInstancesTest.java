package dev.entanglement.sample.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.ChangeEvent;
import dev.entanglement.hibernate.ChangeListener;
import dev.entanglement.hibernate.Entanglement;
import dev.entanglement.hibernate.RequestEvent;
import dev.entanglement.hibernate.RequestListener;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Two instances of the sample, each a Spring context on its own PostgreSQL database, over TCP:
 * site-b dials site-a. Notes replicate, an update of the other's note joins the caller's
 * transaction and reaches the owner, and Boot's lifecycle opens and closes site-a's port, which
 * site-b's health shows.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TwoInstancesTest {
  private static ConfigurableApplicationContext siteA;
  private static ConfigurableApplicationContext siteB;

  @BeforeAll
  static void start() {
    siteA = run("site-a", "127.0.0.1:" + freePort(), ""); // a fixed port: site-b dials it again after a restart
    String address = siteA.getBean(Entanglement.class).listenAddress().orElseThrow();
    siteB = run("site-b", "127.0.0.1:0", address);
    await().atMost(Duration.ofSeconds(20))
        .until(() -> siteB.getBean(Entanglement.class).connectedPeers().contains("site-a"));
  }

  @AfterAll
  static void close() {
    if (siteB != null) {
      siteB.close();
    }
    if (siteA != null) {
      siteA.close();
    }
  }

  private static ConfigurableApplicationContext run(String node, String listen, String peers) {
    Map<String, Object> properties = new LinkedHashMap<>(SampleDatabases.fresh(node));
    properties.put("entanglement.node.name", node);
    properties.put("entanglement.listen", listen);
    properties.put("entanglement.peers", peers);
    properties.put("management.metrics.use-global-registry", "false"); // meters reach Boot's registry only if given it
    properties.put("entanglement.properties[entanglement.reconnect.initial_delay_ms]", "50");
    properties.put("entanglement.properties[entanglement.reconnect.max_delay_ms]", "200");
    return new SpringApplicationBuilder(SpringSampleApplication.class, ListenerBeans.class).web(WebApplicationType.NONE)
        .run(SampleDatabases.arguments(properties));
  }

  @Test
  @Order(1)
  void notesReplicateAndAnUpdateOfTheOthersNoteReachesItsOwner() throws Exception {
    UUID id = siteA.getBean(NoteService.class).create("from a").getId();
    NoteRepository notesAtB = siteB.getBean(NoteRepository.class);
    await().atMost(Duration.ofSeconds(20)).until(() -> notesAtB.findById(id).isPresent());

    Note renamed = siteB.getBean(NoteService.class).rename(id, "renamed at b").get(20, TimeUnit.SECONDS);

    assertThat(renamed.getText()).isEqualTo("renamed at b");
    assertThat(siteA.getBean(NoteRepository.class).findById(id).orElseThrow().getText()).isEqualTo("renamed at b");
    // the application's RequestListener bean was registered at start and heard the request settle
    List<RequestEvent> settled = siteB.getBean(ListenerBeans.class).settled;
    await().atMost(Duration.ofSeconds(20)).until(() -> !settled.isEmpty());
    assertThat(settled).anyMatch(event -> event.idText().equals(id.toString()));
    // the application's ChangeListener<Note> bean heard site-a's note arrive at site-b
    List<ChangeEvent<Note>> heard = siteB.getBean(ListenerBeans.class).changes;
    await().atMost(Duration.ofSeconds(20)).until(() -> heard.stream()
        .anyMatch(event -> event.id().equals(id) && event.kind() == ChangeEvent.Kind.INSERTED));
    assertThat(heard).allMatch(event -> event.entityType() == Note.class && event.fromPeer().equals("site-a"));
  }

  /** A RequestListener and a ChangeListener bean of the application, registered by the starter. */
  @Configuration(proxyBeanMethods = false)
  static class ListenerBeans {
    final List<RequestEvent> settled = new CopyOnWriteArrayList<>();
    final List<ChangeEvent<Note>> changes = new CopyOnWriteArrayList<>();

    @Bean
    ChangeListener<Note> notesFromPeers() {
      return changes::add;
    }

    @Bean
    RequestListener requestsSettled() {
      return settled::add;
    }
  }

  @Test
  @Order(2)
  void theNodesMetersAreInBootsRegistry() {
    MeterRegistry registry = siteA.getBean(MeterRegistry.class);

    assertThat(registry.getMeters()).anyMatch(meter -> meter.getId().getName().startsWith("entanglement."));
  }

  @Test
  @Order(3)
  void stoppingAnInstanceClosesItsPortAndThePeersHealthShowsItDown() throws Exception {
    HealthIndicator healthAtB = siteB.getBean("entanglementHealthIndicator", HealthIndicator.class);
    assertThat(healthAtB.health().getStatus()).isEqualTo(Status.UP);
    InetSocketAddress port = socket(siteA.getBean(Entanglement.class).listenAddress().orElseThrow());

    siteA.stop();

    assertThatThrownBy(() -> connect(port)).isInstanceOf(ConnectException.class);
    await().atMost(Duration.ofSeconds(20)).until(() -> healthAtB.health().getStatus().equals(Status.DOWN));
    assertThat(healthAtB.health().getDetails().get("unconnected").toString()).contains(port.getPort() + "");

    siteA.start();

    await().atMost(Duration.ofSeconds(20)).until(() -> healthAtB.health().getStatus().equals(Status.UP));
  }

  private static int freePort() {
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static InetSocketAddress socket(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
  }

  private static void connect(InetSocketAddress address) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(address, 2_000);
    }
  }
}
