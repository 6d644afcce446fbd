package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.entanglement.hibernate.annotations.Entangled;
import dev.entanglement.hibernate.annotations.NotEntangled;
import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.LogCapture;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.IdClass;
import jakarta.persistence.ManyToOne;
import java.io.Serializable;
import java.util.Date;
import java.util.List;
import java.util.UUID;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** Misconfiguration fails the SessionFactory build with a message that says what to do. */
class BootValidationTest {

  private static Throwable configurationError(Throwable thrown) {
    for (Throwable t = thrown; t != null; t = t.getCause()) {
      if (t instanceof EntanglementConfigurationException) {
        return t;
      }
    }
    throw new AssertionError("no EntanglementConfigurationException in the causes", thrown);
  }

  private static void assertBootFails(UnaryOperator<TestNode.Builder> settings, String message, Class<?>... entities) {
    TestNode.Builder builder = settings.apply(TestNode.builder("a", Database.H2, entities));
    assertThatThrownBy(builder::start)
        .satisfies(e -> assertThat(configurationError(e)).hasMessage(message));
  }

  private static void assertMappingRejected(Class<?> entity, String problem) {
    assertBootFails(UnaryOperator.identity(), "Entanglement cannot replicate these mappings:\n  - " + problem,
        entity, NotReplicated.class, KeyTarget.class);
  }

  // ---- settings ----------------------------------------------------------------------------

  @Test
  void invalidNodeName() {
    assertBootFails(b -> b.set(EntanglementSettings.NODE_NAME, "site a!"),
        "Setting entanglement.node.name has the invalid value 'site a!'; expected 1 to 64 letters, "
            + "digits, '.', '_' or '-', unique among the nodes that replicate together", Item.class);
  }

  @Test
  void signingRequiredWithoutANodeKey_orAnUnknownValue_failsTheBoot() {
    assertBootFails(b -> b.set(EntanglementSettings.SIGNING, "required"),
        "Setting entanglement.signing has the invalid value 'required'; expected 'off' without a node key: signed "
            + "state signs with the private key of entanglement.tls.private_key and verifies with certificates trusted "
            + "by entanglement.tls.trust or entanglement.tls.trusted_fingerprints; set those, or entanglement.signing=off",
        Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.SIGNING, "sometimes"),
        "Setting entanglement.signing has the invalid value 'sometimes'; expected 'required' or 'off'", Item.class);
  }

  @Test
  void invalidPeerForgetAfter() {
    String expected = "a duration with a unit (7d, 12h, 30m, 90s or ISO-8601 such as P7D) of at least one minute "
        + "and at most 3650d, or 0 or never to keep absent peers for ever";
    assertBootFails(b -> b.set(EntanglementSettings.PEER_FORGET_AFTER, "soon"),
        "Setting entanglement.peer.forget_after has the invalid value 'soon'; expected " + expected, Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.PEER_FORGET_AFTER, "7"),
        "Setting entanglement.peer.forget_after has the invalid value '7'; expected " + expected, Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.PEER_FORGET_AFTER, "10s"),
        "Setting entanglement.peer.forget_after has the invalid value '10s'; expected " + expected, Item.class);
  }

  @Test
  void invalidRequestLifetime_andTheDeprecatedTimeoutAlongsideIt() {
    String expected = "a duration with a unit (6h, 30m, 90s, 2d or ISO-8601 such as PT6H) from 1s to 3650d";
    assertBootFails(b -> b.set(EntanglementSettings.REQUEST_LIFETIME, "forever"),
        "Setting entanglement.request.lifetime has the invalid value 'forever'; expected " + expected, Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.REQUEST_LIFETIME, "500ms"),
        "Setting entanglement.request.lifetime has the invalid value '500ms'; expected " + expected, Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.REQUEST_LIFETIME, "6h").set(EntanglementSettings.REQUEST_TIMEOUT_MS, "10000"),
        "Settings entanglement.request.lifetime and entanglement.request.timeout_ms are both set ('6h' and '10000'); "
            + "entanglement.request.timeout_ms is a deprecated alias of entanglement.request.lifetime in milliseconds: "
            + "set only entanglement.request.lifetime", Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.REQUEST_MAX_PENDING, "0"),
        "Setting entanglement.request.max_pending has the invalid value '0'; expected a whole number from 1 to 10000000",
        Item.class);
  }

  @Test
  void aDatabaseOtherThanH2PostgreSqlMariaDbOrMySql_failsTheBoot_namingItsDialectAndTheSupportedOnes() {
    // a real other dialect (SQL Server's) on H2 in its SQL Server mode: Hibernate boots, the plugin refuses
    assertBootFails(b -> b.set("hibernate.dialect", "org.hibernate.dialect.SQLServerDialect")
            .set("jakarta.persistence.jdbc.url", "jdbc:h2:mem:sqlserver_mode;MODE=MSSQLServer;DB_CLOSE_DELAY=-1"),
        "the database dialect org.hibernate.dialect.SQLServerDialect is not supported by Entanglement; supported: "
            + "H2 (H2Dialect), PostgreSQL (PostgreSQLDialect), MariaDB (MariaDBDialect) and MySQL (MySQLDialect)",
        Item.class);
  }

  @Test
  void invalidNodeLeaseTimeout() {
    assertBootFails(b -> b.set(EntanglementSettings.NODE_LEASE_TIMEOUT_MS, "100"),
        "Setting entanglement.node.lease_timeout_ms has the invalid value '100'; expected a whole number from 500 to "
            + "600000", Item.class);
  }

  @Test
  void deprecatedRequestTimeout_isTheLifetimeInMilliseconds_withAWarning() {
    try (LogCapture log = LogCapture.start();
        TestNode node = TestNode.builder("a", Database.H2, Item.class)
            .set(EntanglementSettings.REQUEST_TIMEOUT_MS, "15000").start()) {
      assertThat(log.warnings("entanglement.request.timeout_ms is deprecated", "use entanglement.request.lifetime"))
          .hasSize(1);
    }
  }

  @Test
  void malformedListenAddress() {
    assertBootFails(b -> b.set(EntanglementSettings.LISTEN, "localhost"),
        "Setting entanglement.listen has the invalid value 'localhost'; expected host:port "
            + "(e.g. 127.0.0.1:7400) or inprocess:NAME", Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.LISTEN, "127.0.0.1:70000"),
        "Setting entanglement.listen has the invalid value '127.0.0.1:70000'; expected host:port "
            + "with a port from 0 to 65535", Item.class);
  }

  @Test
  void malformedPeerList() {
    assertBootFails(b -> b.set(EntanglementSettings.PEERS, "inprocess:x,,inprocess:y"),
        "Setting entanglement.peers has the invalid value 'inprocess:x,,inprocess:y'; expected a "
            + "comma-separated list of host:port or inprocess:NAME, without empty items", Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.PEERS, "inprocess:x,host:port"),
        "Setting entanglement.peers has the invalid value 'host:port'; expected host:port with a "
            + "numeric port from 0 to 65535", Item.class);
  }

  @Test
  void tcpWithoutTlsOrPlaintext() {
    assertBootFails(b -> b.set(EntanglementSettings.LISTEN, "127.0.0.1:0"),
        "TCP addresses are configured (entanglement.listen, entanglement.peers) but neither mutual TLS "
            + "(entanglement.tls.certificate, entanglement.tls.private_key, and entanglement.tls.trust or "
            + "entanglement.tls.trusted_fingerprints) nor entanglement.transport.plaintext=true is set: TCP needs "
            + "mutual TLS, or plaintext asked for explicitly for loopback tests and demos on a trusted network",
        Item.class);
  }

  @Test
  void booleanAndNumberSettings() {
    assertBootFails(b -> b.set(EntanglementSettings.PLAINTEXT, "yes"),
        "Setting entanglement.transport.plaintext has the invalid value 'yes'; expected true or false", Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.OUTBOX_BATCH_SIZE, "many"),
        "Setting entanglement.outbox.batch_size has the invalid value 'many'; expected a whole "
            + "number from 1 to 10000", Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.APPLY_WINDOW, "0"),
        "Setting entanglement.apply.window has the invalid value '0'; expected a whole number from 1 to 1024",
        Item.class);
    assertBootFails(b -> b.set(EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, "500")
            .set(EntanglementSettings.RECONNECT_MAX_DELAY_MS, "100"),
        "Setting entanglement.reconnect.max_delay_ms has the invalid value '100'; expected at least "
            + "entanglement.reconnect.initial_delay_ms (500)", Item.class);
  }

  @Test
  void tlsCertificateWithoutKey() {
    assertBootFails(b -> b.set(EntanglementSettings.TLS_CERTIFICATE, "/etc/node.pem"),
        "Setting entanglement.tls.private_key is missing: mutual TLS needs both entanglement.tls.certificate "
            + "and entanglement.tls.private_key (PEM files of this node's certificate chain and private key)", Item.class);
  }

  @Test
  void applicationMigrations_missingTables() {
    assertBootFails(b -> b.set(EntanglementSettings.SCHEMA_MIGRATE, "false"),
        "Setting entanglement.schema.migrate is false, but table entanglement_node does not exist: "
            + "add classpath:entanglement/db/migration to your Flyway locations, or set "
            + "entanglement.schema.migrate=true", Item.class);
  }

  // ---- mappings ----------------------------------------------------------------------------

  @Entity(name = "IdentityThing")
  @Entangled
  static class IdentityThing {
    @Id @GeneratedValue(strategy = GenerationType.IDENTITY) Long id;
  }

  @Entity(name = "SequenceThing")
  @Entangled
  static class SequenceThing {
    @Id @GeneratedValue(strategy = GenerationType.SEQUENCE) Long id;
  }

  @Entity(name = "DatedThing")
  @Entangled
  static class DatedThing {
    @Id UUID id;
    Date created;
  }

  @Entity(name = "TaggedThing")
  @Entangled
  static class TaggedThing {
    @Id UUID id;
    @ElementCollection List<String> tags;
  }

  @Entity(name = "NotReplicated")
  static class NotReplicated {
    @Id UUID id;
  }

  @Entity(name = "PointingThing")
  @Entangled
  static class PointingThing {
    @Id UUID id;
    @ManyToOne NotReplicated target;
  }

  static class PairKey implements Serializable {
    private static final long serialVersionUID = 1L;
    UUID left;
    UUID right;
  }

  @Entity(name = "PairThing")
  @Entangled
  @IdClass(PairKey.class)
  static class PairThing {
    @Id UUID left;
    @Id UUID right;
  }

  @Entity(name = "ExcludedThing")
  @Entangled
  static class ExcludedThing {
    @Id UUID id;
    @NotEntangled Date created;
    @NotEntangled @ElementCollection List<String> tags;
    @NotEntangled @ManyToOne NotReplicated target;
  }

  @Test
  void databaseGeneratedIds_refused() {
    assertMappingRejected(IdentityThing.class, "entity IdentityThing: IdentityThing.id is generated by "
        + "IdentityGenerator, which is unique only within one database; replicated objects need ids that "
        + "are unique across nodes. Use @Id @GeneratedValue(strategy = GenerationType.UUID) UUID id, or "
        + "assign the id in the application");
    assertMappingRejected(SequenceThing.class, "entity SequenceThing: SequenceThing.id is generated by "
        + "SequenceStyleGenerator, which is unique only within one database; replicated objects need ids "
        + "that are unique across nodes. Use @Id @GeneratedValue(strategy = GenerationType.UUID) UUID id, "
        + "or assign the id in the application");
  }

  @Test
  void unsupportedAttributeType_refused() {
    assertMappingRejected(DatedThing.class, "attribute DatedThing.created has type java.util.Date, which "
        + "Entanglement cannot replicate; supported: " + supportedTypes()
        + ". Use a supported type or mark the attribute @NotEntangled");
  }

  private static String supportedTypes() {
    return "String, char, the integer and floating-point types, boolean, byte[], BigDecimal, "
        + "BigInteger, UUID, enums and the java.time types (Instant, LocalDate, LocalTime, "
        + "LocalDateTime, OffsetDateTime, OffsetTime, ZonedDateTime, Duration, Year, YearMonth, "
        + "MonthDay)";
  }

  @Test
  void ownedCollections_boot() {
    // an element collection was refused before collections replicated (docs/collections.md)
    try (TestNode node = TestNode.builder("a", Database.H2, TaggedThing.class).start()) {
      assertThat(node.entanglement()).isNotNull();
    }
  }

  @Test
  void collectionsThatCannotTravel_refused() {
    assertMappingRejected(ArrayThing.class, "attribute ArrayThing.tags is an array collection, which Entanglement "
        + "cannot replicate; use a List (with @OrderColumn to keep the order) or mark it @NotEntangled");
    assertMappingRejected(KeyedThing.class, "attribute KeyedThing.byTarget is a map keyed by "
        + KeyTarget.class.getName() + "; Entanglement replicates maps whose keys are basic values ("
        + supportedTypes() + "). Use such a key or mark the attribute @NotEntangled");
    assertMappingRejected(DanglingChildren.class, "attribute DanglingChildren.children is a @OneToMany with "
        + "@EntangledReference(whenMissing = DANGLE): its rows are the elements' own rows, so a receiver without an "
        + "element has nowhere to keep its id. Use PARK or STORE_NULL");
    assertMappingRejected(NotReplicatedElements.class, "attribute NotReplicatedElements.targets holds NotReplicated, "
        + "which is not @Entangled: a peer could not resolve its elements. Mark NotReplicated @Entangled, or the "
        + "attribute @NotEntangled");
  }

  @Entity(name = "ArrayThing")
  @Entangled
  static class ArrayThing {
    @Id UUID id;
    @ElementCollection @jakarta.persistence.OrderColumn String[] tags;
  }

  @Entity(name = "KeyTarget")
  @Entangled
  static class KeyTarget {
    @Id UUID id;
  }

  @Entity(name = "KeyedThing")
  @Entangled
  static class KeyedThing {
    @Id UUID id;
    @ElementCollection @jakarta.persistence.MapKeyJoinColumn(name = "target_id")
    java.util.Map<KeyTarget, String> byTarget;
  }

  @Entity(name = "DanglingChildren")
  @Entangled
  static class DanglingChildren {
    @Id UUID id;
    @jakarta.persistence.OneToMany @jakarta.persistence.JoinColumn(name = "parent_id")
    @dev.entanglement.hibernate.annotations.EntangledReference(
        whenMissing = dev.entanglement.hibernate.annotations.EntangledReference.WhenMissing.DANGLE)
    List<KeyTarget> children;
  }

  @Entity(name = "NotReplicatedElements")
  @Entangled
  static class NotReplicatedElements {
    @Id UUID id;
    @jakarta.persistence.ManyToMany List<NotReplicated> targets;
  }

  @Test
  void referenceToEntityThatIsNotEntangled_refused() {
    assertMappingRejected(PointingThing.class, "attribute PointingThing.target references NotReplicated, "
        + "which is not @Entangled: a peer could not resolve the reference. Mark NotReplicated "
        + "@Entangled, or the attribute @NotEntangled");
  }

  @Test
  void compositeId_refused() {
    assertMappingRejected(PairThing.class, "entity PairThing has a composite identifier; @Entangled "
        + "entities need a single identifier attribute (a UUID or an id the application assigns)");
  }

  @Test
  void excludedAttributes_areAccepted() {
    try (TestNode node = TestNode.builder("a", Database.H2, ExcludedThing.class, NotReplicated.class).start()) {
      assertThat(node.entanglement().nodeName()).isEqualTo("a");
    }
  }

  @Test
  void everyProblemIsListedAtOnce() {
    TestNode.Builder builder = TestNode.builder("a", Database.H2, IdentityThing.class, DatedThing.class);
    assertThatThrownBy(builder::start).satisfies(e -> assertThat(configurationError(e).getMessage())
        .startsWith("Entanglement cannot replicate these mappings:\n  - ")
        .contains("entity IdentityThing: IdentityThing.id is generated by IdentityGenerator")
        .contains("attribute DatedThing.created has type java.util.Date"));
  }
}
