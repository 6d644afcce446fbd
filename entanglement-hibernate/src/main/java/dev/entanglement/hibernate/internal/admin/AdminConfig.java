package dev.entanglement.hibernate.internal.admin;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.internal.transport.PeerAddress;
import dev.entanglement.hibernate.tls.Fingerprints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The admin settings, read and checked at boot. Immutable.
 *
 * @param listen where the admin server listens, if the plugin runs one
 * @param token the bearer token admin calls may present, or null
 * @param fingerprints SHA-256 fingerprints of admin client certificates (over mutual TLS)
 */
public record AdminConfig(Optional<PeerAddress> listen, String token, Set<String> fingerprints) {
  /** @throws EntanglementConfigurationException naming the bad setting and value */
  public static AdminConfig from(Map<String, Object> settings, boolean tls) {
    String listenText = text(settings, EntanglementSettings.ADMIN_LISTEN);
    Optional<PeerAddress> listen = Optional.empty();
    if (listenText != null) {
      try {
        listen = Optional.of(PeerAddress.parse(listenText));
      } catch (IllegalArgumentException e) {
        throw new EntanglementConfigurationException("Setting %s has the invalid value '%s'; expected %s"
            .formatted(EntanglementSettings.ADMIN_LISTEN, listenText, e.getMessage()));
      }
    }
    String token = text(settings, EntanglementSettings.ADMIN_TOKEN);
    String tokenFile = text(settings, EntanglementSettings.ADMIN_TOKEN_FILE);
    if (token != null && tokenFile != null) {
      throw new EntanglementConfigurationException("Settings %s and %s are both set; expected one of them"
          .formatted(EntanglementSettings.ADMIN_TOKEN, EntanglementSettings.ADMIN_TOKEN_FILE));
    }
    if (tokenFile != null) {
      try {
        token = Files.readString(Path.of(tokenFile)).trim();
      } catch (IOException e) {
        throw new EntanglementConfigurationException("Setting %s has the value '%s', which cannot be read (%s); expected a file holding the admin token"
            .formatted(EntanglementSettings.ADMIN_TOKEN_FILE, tokenFile, e), e);
      }
    }
    if (token != null && token.length() < 16) {
      throw new EntanglementConfigurationException(("Setting %s has a token of %d characters; expected at least 16 "
          + "(a long random string, e.g. from 'openssl rand -hex 24')").formatted(
          tokenFile != null ? EntanglementSettings.ADMIN_TOKEN_FILE : EntanglementSettings.ADMIN_TOKEN, token.length()));
    }
    Set<String> fingerprints = new LinkedHashSet<>();
    String fingerprintText = text(settings, EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS);
    if (fingerprintText != null) {
      for (String item : fingerprintText.split(",")) {
        String normalized = Fingerprints.normalize(item.trim());
        if (normalized == null) {
          throw new EntanglementConfigurationException(("Setting %s has the invalid value '%s' in '%s'; expected SHA-256 "
              + "fingerprints of admin client certificates: 64 hex digits each, comma separated")
              .formatted(EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS, item.trim(), fingerprintText));
        }
        fingerprints.add(normalized);
      }
      if (!tls) {
        throw new EntanglementConfigurationException(("Setting %s needs mutual TLS (entanglement.tls.*): admin "
            + "certificates are checked in the TLS handshake").formatted(EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS));
      }
    }
    if (listen.isPresent() && token == null && fingerprints.isEmpty()) {
      throw new EntanglementConfigurationException(("Setting %s is '%s' but no admin credentials are configured: set %s "
          + "(or %s) and/or %s; the admin service is never open to whoever reaches the port").formatted(
          EntanglementSettings.ADMIN_LISTEN, listenText, EntanglementSettings.ADMIN_TOKEN,
          EntanglementSettings.ADMIN_TOKEN_FILE, EntanglementSettings.ADMIN_TRUSTED_FINGERPRINTS));
    }
    return new AdminConfig(listen, token, Set.copyOf(fingerprints));
  }

  private static String text(Map<String, Object> settings, String setting) {
    Object value = settings.get(setting);
    return value == null || value.toString().isBlank() ? null : value.toString().trim();
  }
}
