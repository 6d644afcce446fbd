package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.NodePair;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.Transport;
import dev.entanglement.hibernate.testing.model.Item;
import jakarta.persistence.EntityManagerFactory;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.hibernate.jpa.HibernatePersistenceConfiguration;
import org.junit.jupiter.api.Test;

/** The plugin starts with its SessionFactory, stops cleanly with it, and leaves other units alone. */
class LifecycleIntegrationTest {

  private static long pluginThreads(String node) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().startsWith("entanglement-" + node + "-"))
        .count();
  }

  @Test
  void close_endsStreamsAndStopsThreads() throws Exception {
    NodePair nodes = NodePair.start(Database.H2, Transport.NETTY, Item.class);
    nodes.a.inTransaction(em -> em.persist(new Item("L1", "x", 1)));
    nodes.a.entanglement().caughtUp("b").get(10, TimeUnit.SECONDS);
    assertThat(pluginThreads("b")).isPositive();

    nodes.b.close();
    await().alias("a sees b gone").atMost(Duration.ofSeconds(10))
        .until(() -> nodes.a.entanglement().connectedPeers().isEmpty());
    await().alias("b's threads gone").atMost(Duration.ofSeconds(10)).until(() -> pluginThreads("b") == 0);
    assertThatThrownBy(() -> Entanglement.of(nodes.b.factory()))
        .isInstanceOf(IllegalStateException.class);
    nodes.a.close();
    await().alias("a's threads gone").atMost(Duration.ofSeconds(10)).until(() -> pluginThreads("a") == 0);
  }

  /** entanglement.serve.at_boot=false: no port until serve(), none after stopServing(), again at serve(). */
  @Test
  void serveAtBootFalse_opensTheServerAtServeAndClosesItAtStopServing() throws Exception {
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
      port = free.getLocalPort();
    }
    java.net.InetSocketAddress address = new java.net.InetSocketAddress("127.0.0.1", port);
    try (TestNode node = TestNode.builder("deferred", Database.H2, Item.class)
        .set(EntanglementSettings.LISTEN, "127.0.0.1:" + port)
        .set(EntanglementSettings.PLAINTEXT, "true")
        .set(EntanglementSettings.SERVE_AT_BOOT, "false").start()) {
      Entanglement entanglement = node.entanglement();
      assertThat(entanglement.listenAddress()).isEmpty();
      assertThatThrownBy(() -> connect(address)).isInstanceOf(java.net.ConnectException.class);

      entanglement.serve();
      assertThat(entanglement.listenAddress()).contains("127.0.0.1:" + port);
      connect(address);

      entanglement.stopServing();
      assertThat(entanglement.listenAddress()).isEmpty();
      assertThatThrownBy(() -> connect(address)).isInstanceOf(java.net.ConnectException.class);

      entanglement.serve();
      connect(address);
    }
  }

  private static void connect(java.net.InetSocketAddress address) throws java.io.IOException {
    try (java.net.Socket socket = new java.net.Socket()) {
      socket.connect(address, 2_000);
    }
  }

  @Test
  void persistenceUnitWithoutNodeName_isLeftAlone() {
    HibernatePersistenceConfiguration configuration = new HibernatePersistenceConfiguration("plain")
        .managedClass(Item.class);
    Database.H2.freshDatabase("plain").forEach(configuration::property);
    configuration.property("hibernate.hbm2ddl.auto", "create");
    try (EntityManagerFactory factory = configuration.createEntityManagerFactory()) {
      assertThatThrownBy(() -> Entanglement.of(factory))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("Entanglement does not run for this persistence unit: set entanglement.node.name "
              + "in its properties (and keep the factory open)");
      var em = factory.createEntityManager();
      Object tables = em.createNativeQuery(
          "select count(*) from information_schema.tables where lower(table_name) like 'entanglement%'")
          .getSingleResult();
      em.close();
      assertThat(((Number) tables).longValue()).isZero();
    }
  }

  @Test
  void restart_keepsNodeIdentityAndSerials(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    String url = "jdbc:h2:file:" + dir.resolve("node").toAbsolutePath();
    Map<String, Object> db = Map.of("jakarta.persistence.jdbc.url", url,
        "jakarta.persistence.jdbc.user", "sa", "jakarta.persistence.jdbc.password", "");
    TestNode.Builder first = TestNode.builder("a", Database.H2, Item.class).set("hibernate.hbm2ddl.auto", "update");
    db.forEach(first::set);
    try (TestNode node = first.start()) {
      node.inTransaction(em -> em.persist(new Item("R1", "x", 1)));
      node.inTransaction(em -> em.persist(new Item("R2", "y", 1)));
    }
    TestNode.Builder again = TestNode.builder("a", Database.H2, Item.class).set("hibernate.hbm2ddl.auto", "update");
    db.forEach(again::set);
    try (TestNode node = again.start()) {
      node.inTransaction(em -> em.persist(new Item("R3", "z", 1)));
      assertThat(node.sql("select max(serial) from entanglement_object")).isEqualTo(3L);
    }
    TestNode.Builder renamed = TestNode.builder("z", Database.H2, Item.class).set("hibernate.hbm2ddl.auto", "update");
    db.forEach(renamed::set);
    assertThatThrownBy(renamed::start).satisfies(e -> {
      Throwable t = e;
      while (!(t instanceof EntanglementConfigurationException)) {
        t = t.getCause();
      }
      assertThat(t).hasMessage("Setting entanglement.node.name is 'z', but this database belongs to node 'a' "
          + "(table entanglement_node): a database keeps one node identity. Use 'a', or a fresh database");
    });
    assertThat(new File(dir.toFile(), "node.mv.db")).exists();
    assertThat(Files.size(dir.resolve("node.mv.db"))).isPositive();
  }
}
