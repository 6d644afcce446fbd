package dev.entanglement.hibernate.internal.boot;

import dev.entanglement.hibernate.internal.transport.TlsConfig;
import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.internal.transport.PeerAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The plugin's settings for one persistence unit, read once and validated when the
 * SessionFactory is built. Immutable.
 */
public record EntanglementConfig(
    String nodeName,
    Optional<PeerAddress> listen,
    List<PeerAddress> peers,
    boolean plaintext,
    boolean migrateSchema,
    int outboxBatchSize,
    int outboxMaxEntries,
    int applyWindow,
    Duration applyRetry,
    boolean captureFailClosed,
    Duration reconnectInitialDelay,
    Duration reconnectMaxDelay,
    long bandwidthLimit,
    Duration heartbeatInterval,
    Duration heartbeatTimeout,
    Duration compactionInterval,
    Duration requestTimeout,
    TlsConfig tls,
    int maxMessageBytes,
    Duration stallTimeout,
    Duration peerForgetAfter,
    Clock wallClock,
    Duration requestLifetime,
    int maxPendingRequests,
    Duration leaseTimeout,
    PeerAddress memberListen,
    Optional<String> memberAdvertise,
    int dbConnections,
    Optional<PeerAddress> webListen,
    boolean signing,
    int listenerQueue) {

  private static final Logger LOG = Logger.getLogger(EntanglementConfig.class);
  private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  /** Not a user setting: a {@link Clock} instance tests give to move wall time (peer retirement). */
  static final String WALL_CLOCK = "entanglement.internal.clock";
  /**
   * Seven days: a weekend or a holiday outage, or a long maintenance, ends with an ordinary
   * catch-up; tombstones of a week cost one small row per deleted object; a peer away longer gets
   * a full synchronization, which by then costs about what a catch-up of a week's changes would.
   */
  static final Duration DEFAULT_FORGET_AFTER = Duration.ofDays(7);

  public EntanglementConfig {
    peers = List.copyOf(peers);
  }

  /**
   * Reads the settings; returns empty when the plugin is not enabled for this unit (no node name,
   * or {@link EntanglementSettings#ENABLED} false).
   *
   * @throws EntanglementConfigurationException naming the first bad setting
   */
  public static Optional<EntanglementConfig> from(Map<String, Object> settings) {
    Object name = settings.get(EntanglementSettings.NODE_NAME);
    boolean enabled = bool(settings, EntanglementSettings.ENABLED, true);
    if (name == null || !enabled) {
      return Optional.empty();
    }
    String nodeName = name.toString().trim();
    if (!NODE_NAME.matcher(nodeName).matches()) {
      throw bad(EntanglementSettings.NODE_NAME, name,
          "1 to 64 letters, digits, '.', '_' or '-', unique among the nodes that replicate together");
    }
    Optional<PeerAddress> listen = Optional.ofNullable(text(settings, EntanglementSettings.LISTEN))
        .map(value -> address(EntanglementSettings.LISTEN, value));
    List<PeerAddress> peers = new ArrayList<>();
    String peerList = text(settings, EntanglementSettings.PEERS);
    if (peerList != null) {
      for (String item : peerList.split(",")) {
        if (item.isBlank()) {
          throw bad(EntanglementSettings.PEERS, peerList,
              "a comma-separated list of host:port or inprocess:NAME, without empty items");
        }
        peers.add(address(EntanglementSettings.PEERS, item.trim()));
      }
    }
    boolean plaintext = bool(settings, EntanglementSettings.PLAINTEXT, false);
    var tls = TlsConfig.read(nodeName,
        text(settings, EntanglementSettings.TLS_CERTIFICATE), text(settings, EntanglementSettings.TLS_PRIVATE_KEY),
        text(settings, EntanglementSettings.TLS_TRUST), text(settings, EntanglementSettings.TLS_TRUSTED_FINGERPRINTS));
    if (tls != null && plaintext) {
      throw bad(EntanglementSettings.PLAINTEXT, "true", ("false when mutual TLS is configured (%s is set): a node "
          + "either uses mutual TLS or, on a trusted network, plaintext").formatted(EntanglementSettings.TLS_CERTIFICATE));
    }
    boolean networked = listen.map(PeerAddress::isNetwork).orElse(false)
        || peers.stream().anyMatch(PeerAddress::isNetwork);
    if (networked && !plaintext && tls == null) {
      throw new EntanglementConfigurationException(("TCP addresses are configured (%s, %s) but neither mutual TLS "
          + "(%s, %s, and %s or %s) nor %s=true is set: TCP needs mutual TLS, or plaintext asked for explicitly "
          + "for loopback tests and demos on a trusted network").formatted(EntanglementSettings.LISTEN,
          EntanglementSettings.PEERS, EntanglementSettings.TLS_CERTIFICATE, EntanglementSettings.TLS_PRIVATE_KEY,
          EntanglementSettings.TLS_TRUST, EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, EntanglementSettings.PLAINTEXT));
    }
    Duration initial = Duration.ofMillis(
        integer(settings, EntanglementSettings.RECONNECT_INITIAL_DELAY_MS, 100, 1, 3_600_000));
    Duration max = Duration.ofMillis(
        integer(settings, EntanglementSettings.RECONNECT_MAX_DELAY_MS, 30_000, 1, 3_600_000));
    if (max.compareTo(initial) < 0) {
      throw bad(EntanglementSettings.RECONNECT_MAX_DELAY_MS, max.toMillis(),
          "at least " + EntanglementSettings.RECONNECT_INITIAL_DELAY_MS + " ("
              + initial.toMillis() + ")");
    }
    Duration heartbeat = Duration.ofMillis(
        integer(settings, EntanglementSettings.HEARTBEAT_INTERVAL_MS, 5_000, 10, 3_600_000));
    Duration silence = Duration.ofMillis(
        integer(settings, EntanglementSettings.HEARTBEAT_TIMEOUT_MS, 15_000, 10, 3_600_000));
    if (silence.compareTo(heartbeat) <= 0) {
      throw bad(EntanglementSettings.HEARTBEAT_TIMEOUT_MS, silence.toMillis(),
          "more than " + EntanglementSettings.HEARTBEAT_INTERVAL_MS + " (" + heartbeat.toMillis() + ")");
    }
    return Optional.of(new EntanglementConfig(
        nodeName,
        listen,
        peers,
        plaintext,
        bool(settings, EntanglementSettings.SCHEMA_MIGRATE, true),
        integer(settings, EntanglementSettings.OUTBOX_BATCH_SIZE, 256, 1, 10_000),
        integer(settings, EntanglementSettings.OUTBOX_MAX_ENTRIES, 100_000, 1, 10_000_000),
        integer(settings, EntanglementSettings.APPLY_WINDOW, 4, 1, 1024),
        Duration.ofMillis(integer(settings, EntanglementSettings.APPLY_RETRY_MS, 30_000, 0, 3_600_000)),
        captureFailClosed(settings),
        initial,
        max,
        integer(settings, EntanglementSettings.BANDWIDTH_LIMIT, 0, 0, Integer.MAX_VALUE),
        heartbeat,
        silence,
        Duration.ofMillis(integer(settings, EntanglementSettings.COMPACTION_INTERVAL_MS, 60_000, 10, 86_400_000)),
        handoverTimeout(settings),
        tls,
        integer(settings, EntanglementSettings.PEER_MAX_MESSAGE_BYTES, 16 * 1024 * 1024, 65_536, 1 << 30),
        Duration.ofMillis(integer(settings, EntanglementSettings.PEER_STALL_TIMEOUT_MS, 60_000, 10, 86_400_000)),
        forgetAfter(settings),
        settings.get(WALL_CLOCK) instanceof Clock clock ? clock : Clock.systemUTC(),
        requestLifetime(settings, nodeName),
        integer(settings, EntanglementSettings.REQUEST_MAX_PENDING, 100_000, 1, 10_000_000),
        Duration.ofMillis(integer(settings, EntanglementSettings.NODE_LEASE_TIMEOUT_MS, 3_000, 500, 600_000)),
        memberListen(settings, tls != null, plaintext),
        Optional.ofNullable(text(settings, EntanglementSettings.MEMBER_ADVERTISE))
            .map(value -> address(EntanglementSettings.MEMBER_ADVERTISE, value).toString()),
        integer(settings, EntanglementSettings.DB_CONNECTIONS, 3, 2, 1000),
        webListen(settings, tls != null, plaintext),
        signing(settings, tls),
        integer(settings, EntanglementSettings.LISTENER_QUEUE, 10_000, 1, 1_000_000)));
  }

  /**
   * {@link EntanglementSettings#SIGNING}: {@code required} by default with mutual TLS (the node key
   * signs), {@code off} by default without it; {@code required} without a key fails the boot.
   */
  private static boolean signing(Map<String, Object> settings, TlsConfig tls) {
    String value = text(settings, EntanglementSettings.SIGNING);
    if (value == null) {
      return tls != null;
    }
    return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
      case "required" -> {
        if (tls == null) {
          throw bad(EntanglementSettings.SIGNING, value, ("'off' without a node key: signed state signs with the "
              + "private key of %s and verifies with certificates trusted by %s or %s; set those, or %s=off")
              .formatted(EntanglementSettings.TLS_PRIVATE_KEY, EntanglementSettings.TLS_TRUST,
                  EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, EntanglementSettings.SIGNING));
        }
        yield true;
      }
      case "off" -> false;
      default -> throw bad(EntanglementSettings.SIGNING, value, "'required' or 'off'");
    };
  }

  /**
   * {@link EntanglementSettings#WEB_LISTEN}: a TCP address; without TLS, loopback unless plaintext
   * is asked for (browsers' tokens would cross the network in clear).
   */
  private static Optional<PeerAddress> webListen(Map<String, Object> settings, boolean tls, boolean plaintext) {
    String text = text(settings, EntanglementSettings.WEB_LISTEN);
    if (text == null) {
      return Optional.empty();
    }
    PeerAddress address = address(EntanglementSettings.WEB_LISTEN, text);
    if (!address.isNetwork()) {
      throw bad(EntanglementSettings.WEB_LISTEN, text, "host:port (browsers connect over TCP; port 0 picks a free port)");
    }
    if (!tls && !plaintext && !loopback(address.host())) {
      throw bad(EntanglementSettings.WEB_LISTEN, text, ("a loopback address, or mutual TLS (%s; browsers then connect "
          + "with wss and the node's certificate) or %s=true for plaintext ws on a trusted network").formatted(
          EntanglementSettings.TLS_CERTIFICATE, EntanglementSettings.PLAINTEXT));
    }
    return Optional.of(address);
  }

  /**
   * {@link EntanglementSettings#MEMBER_LISTEN}: loopback by default; a TCP address other than
   * loopback needs mutual TLS or plaintext asked for (the secret in the database guards the calls,
   * but without TLS it crosses the network in clear).
   */
  private static PeerAddress memberListen(Map<String, Object> settings, boolean tls, boolean plaintext) {
    String text = text(settings, EntanglementSettings.MEMBER_LISTEN);
    PeerAddress address = address(EntanglementSettings.MEMBER_LISTEN, text == null ? "127.0.0.1:0" : text);
    if (address.isNetwork() && !tls && !plaintext && !loopback(address.host())) {
      throw bad(EntanglementSettings.MEMBER_LISTEN, text, ("a loopback address (members on one host), or mutual TLS "
          + "(%s) or %s=true for members on several hosts").formatted(EntanglementSettings.TLS_CERTIFICATE,
          EntanglementSettings.PLAINTEXT));
    }
    return address;
  }

  private static boolean loopback(String host) {
    return host.equals("localhost") || host.startsWith("127.") || host.equals("::1");
  }

  /** Six hours: an owner's restart, a maintenance window or a working day's outage of a link. */
  static final Duration DEFAULT_REQUEST_LIFETIME = Duration.ofHours(6);

  /** {@link EntanglementSettings#REQUEST_LIFETIME}, or its deprecated alias in milliseconds. */
  @SuppressWarnings("deprecation")
  private static Duration requestLifetime(Map<String, Object> settings, String nodeName) {
    String lifetime = EntanglementSettings.REQUEST_LIFETIME;
    String alias = EntanglementSettings.REQUEST_TIMEOUT_MS;
    boolean hasLifetime = text(settings, lifetime) != null;
    if (settings.get(alias) != null) {
      if (hasLifetime) {
        throw new EntanglementConfigurationException(("Settings %s and %s are both set ('%s' and '%s'); %s is a "
            + "deprecated alias of %s in milliseconds: set only %s").formatted(lifetime, alias, settings.get(lifetime),
            settings.get(alias), alias, lifetime, lifetime));
      }
      Duration millis = Duration.ofMillis(integer(settings, alias, 10_000, 1, Integer.MAX_VALUE));
      LOG.warnf("Entanglement node '%s': setting %s is deprecated; use %s (a duration such as 6h) instead. "
          + "Requests now live %d ms", nodeName, alias, lifetime, millis.toMillis());
      return millis;
    }
    if (!hasLifetime) {
      return DEFAULT_REQUEST_LIFETIME;
    }
    Duration parsed = duration(lifetime, settings.get(lifetime),
        "a duration with a unit (6h, 30m, 90s, 2d or ISO-8601 such as PT6H) from 1s to 3650d");
    if (parsed.compareTo(Duration.ofSeconds(1)) < 0 || parsed.compareTo(Duration.ofDays(3650)) > 0) {
      throw bad(lifetime, settings.get(lifetime), "a duration with a unit (6h, 30m, 90s, 2d or ISO-8601 such as PT6H) "
          + "from 1s to 3650d");
    }
    return parsed;
  }

  /** How long a hand-over waits for the new owner: the deprecated request timeout if set, else 10 s. */
  @SuppressWarnings("deprecation")
  private static Duration handoverTimeout(Map<String, Object> settings) {
    return Duration.ofMillis(integer(settings, EntanglementSettings.REQUEST_TIMEOUT_MS, 10_000, 1, Integer.MAX_VALUE));
  }

  /** A duration with a unit (ms, s, m, h, d) or in ISO-8601; a {@link Duration} as it is. */
  private static Duration duration(String setting, Object value, String expected) {
    if (value instanceof Duration duration) {
      return duration;
    }
    String text = value.toString().trim().toLowerCase(java.util.Locale.ROOT);
    var matcher = DURATION.matcher(text);
    if (matcher.matches()) {
      long amount = Long.parseLong(matcher.group(1));
      return switch (matcher.group(2)) {
        case "ms" -> Duration.ofMillis(amount);
        case "s" -> Duration.ofSeconds(amount);
        case "m" -> Duration.ofMinutes(amount);
        case "h" -> Duration.ofHours(amount);
        default -> Duration.ofDays(amount);
      };
    }
    try {
      return Duration.parse(text.toUpperCase(java.util.Locale.ROOT));
    } catch (java.time.format.DateTimeParseException e) {
      throw bad(setting, value, expected);
    }
  }

  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})\\s*(ms|s|m|h|d)");

  /** {@link EntanglementSettings#PEER_FORGET_AFTER}: zero for never. */
  private static Duration forgetAfter(Map<String, Object> settings) {
    Object value = settings.get(EntanglementSettings.PEER_FORGET_AFTER);
    if (value == null || value.toString().isBlank()) {
      return DEFAULT_FORGET_AFTER;
    }
    String expected = "a duration with a unit (7d, 12h, 30m, 90s or ISO-8601 such as P7D) of at least one minute "
        + "and at most 3650d, or 0 or never to keep absent peers for ever";
    Duration parsed;
    if (value instanceof Duration duration) {
      parsed = duration;
    } else {
      String text = value.toString().trim().toLowerCase(java.util.Locale.ROOT);
      var matcher = DURATION.matcher(text);
      if (text.equals("0") || text.equals("never")) {
        return Duration.ZERO;
      } else if (matcher.matches()) {
        long amount = Long.parseLong(matcher.group(1));
        parsed = switch (matcher.group(2)) {
          case "ms" -> Duration.ofMillis(amount);
          case "s" -> Duration.ofSeconds(amount);
          case "m" -> Duration.ofMinutes(amount);
          case "h" -> Duration.ofHours(amount);
          default -> Duration.ofDays(amount);
        };
      } else {
        try {
          parsed = Duration.parse(text.toUpperCase(java.util.Locale.ROOT));
        } catch (java.time.format.DateTimeParseException e) {
          throw bad(EntanglementSettings.PEER_FORGET_AFTER, value, expected);
        }
      }
    }
    if (parsed.isZero()) {
      return Duration.ZERO;
    }
    // shorter would turn every brief disconnection into a full synchronization
    if (parsed.compareTo(Duration.ofMinutes(1)) < 0 || parsed.compareTo(Duration.ofDays(3650)) > 0) {
      throw bad(EntanglementSettings.PEER_FORGET_AFTER, value, expected);
    }
    return parsed;
  }

  private static PeerAddress address(String setting, String value) {
    try {
      return PeerAddress.parse(value);
    } catch (IllegalArgumentException e) {
      throw bad(setting, value, e.getMessage());
    }
  }

  private static String text(Map<String, Object> settings, String setting) {
    Object value = settings.get(setting);
    if (value == null || value.toString().isBlank()) {
      return null;
    }
    return value.toString().trim();
  }

  private static boolean captureFailClosed(Map<String, Object> settings) {
    Object value = settings.get(EntanglementSettings.CAPTURE_ON_FAILURE);
    String text = value == null ? "fail" : value.toString().trim().toLowerCase(java.util.Locale.ROOT);
    return switch (text) {
      case "fail" -> true;
      case "log" -> false;
      default -> throw bad(EntanglementSettings.CAPTURE_ON_FAILURE, value, "fail or log");
    };
  }

  static boolean bool(Map<String, Object> settings, String setting, boolean fallback) {
    Object value = settings.get(setting);
    if (value == null) {
      return fallback;
    }
    if (value instanceof Boolean b) {
      return b;
    }
    return switch (value.toString().trim().toLowerCase(java.util.Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default -> throw bad(setting, value, "true or false");
    };
  }

  static int integer(
      Map<String, Object> settings, String setting, int fallback, int min, int max) {
    Object value = settings.get(setting);
    if (value == null) {
      return fallback;
    }
    long parsed;
    try {
      parsed = value instanceof Number n ? n.longValue() : Long.parseLong(value.toString().trim());
    } catch (NumberFormatException e) {
      throw bad(setting, value, "a whole number from %d to %d".formatted(min, max));
    }
    if (parsed < min || parsed > max) {
      throw bad(setting, value, "a whole number from %d to %d".formatted(min, max));
    }
    return (int) parsed;
  }

  static EntanglementConfigurationException bad(String setting, Object value, String expected) {
    return new EntanglementConfigurationException(
        "Setting %s has the invalid value '%s'; expected %s".formatted(setting, value, expected));
  }
}
