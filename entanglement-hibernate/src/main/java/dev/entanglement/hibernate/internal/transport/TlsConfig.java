package dev.entanglement.hibernate.internal.transport;

import dev.entanglement.hibernate.EntanglementConfigurationException;
import dev.entanglement.hibernate.EntanglementSettings;
import dev.entanglement.hibernate.tls.Fingerprints;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLException;

/**
 * A node's mutual TLS material, read and checked once at boot: its certificate chain and private
 * key (PEM, the key PKCS#8), and whom it trusts: CA certificates and/or pinned SHA-256
 * fingerprints of peer certificates. Builds the Netty contexts for the server and for dialing.
 * Immutable.
 */
public final class TlsConfig {
  private final List<X509Certificate> chain;
  private final PrivateKey key;
  private final PeerTrust trust;

  private TlsConfig(List<X509Certificate> chain, PrivateKey key, PeerTrust trust) {
    this.chain = chain;
    this.key = key;
    this.trust = trust;
  }

  /**
   * Reads the settings' files; returns null when no TLS setting is given.
   *
   * @throws EntanglementConfigurationException naming the first bad setting and value
   */
  public static TlsConfig read(String nodeName, String certificate, String privateKey, String trustFile,
      String fingerprints) {
    if (certificate == null && privateKey == null && trustFile == null && fingerprints == null) {
      return null;
    }
    if (certificate == null || privateKey == null) {
      String missing = certificate == null ? EntanglementSettings.TLS_CERTIFICATE : EntanglementSettings.TLS_PRIVATE_KEY;
      throw new EntanglementConfigurationException(("Setting %s is missing: mutual TLS needs both %s and %s "
          + "(PEM files of this node's certificate chain and private key)").formatted(missing,
          EntanglementSettings.TLS_CERTIFICATE, EntanglementSettings.TLS_PRIVATE_KEY));
    }
    if (trustFile == null && fingerprints == null) {
      throw new EntanglementConfigurationException(("Neither %s nor %s is set: mutual TLS needs to know which "
          + "peers to trust (CA certificates in a PEM file, or SHA-256 fingerprints of peer certificates)")
          .formatted(EntanglementSettings.TLS_TRUST, EntanglementSettings.TLS_TRUSTED_FINGERPRINTS));
    }
    List<X509Certificate> chain = certificates(EntanglementSettings.TLS_CERTIFICATE, certificate);
    PrivateKey key = privateKey(privateKey);
    checkPair(chain.get(0), key, certificate, privateKey);
    List<X509Certificate> cas = trustFile == null ? List.of() : certificates(EntanglementSettings.TLS_TRUST, trustFile);
    Set<String> pinned = new LinkedHashSet<>();
    if (fingerprints != null) {
      for (String item : fingerprints.split(",")) {
        String normalized = Fingerprints.normalize(item.trim());
        if (normalized == null) {
          throw new EntanglementConfigurationException(("Setting %s has the invalid value '%s' in '%s'; expected "
              + "SHA-256 fingerprints: 64 hex digits each (colons allowed), comma separated")
              .formatted(EntanglementSettings.TLS_TRUSTED_FINGERPRINTS, item.trim(), fingerprints));
        }
        pinned.add(normalized);
      }
    }
    return new TlsConfig(List.copyOf(chain), key, new PeerTrust(nodeName, cas, pinned));
  }

  /** This node's certificate chain, leaf first (signed state sends it in the Hello). */
  public List<X509Certificate> chain() {
    return chain;
  }

  /** This node's private key (signed state signs with it). */
  public PrivateKey privateKey() {
    return key;
  }

  /** Checks a certificate chain against this node's trust, as a TLS handshake would (signed state's certificates). */
  public void checkTrusted(X509Certificate[] certificates) throws java.security.cert.CertificateException {
    trust.checkClientTrusted(certificates, "signed-state");
  }

  /** This node's own fingerprint (its identity). */
  public String fingerprint() {
    return Fingerprints.sha256(chain.get(0));
  }

  SslContext serverContext() {
    try {
      return GrpcSslContexts.configure(SslContextBuilder.forServer(key, chain.toArray(X509Certificate[]::new)))
          .trustManager(trust).clientAuth(ClientAuth.REQUIRE).build();
    } catch (SSLException e) {
      throw new EntanglementConfigurationException("mutual TLS could not be set up for listening: " + e.getMessage(), e);
    }
  }

  /**
   * The admin server's context: this node's certificate; a client certificate is optional (token
   * callers need none). Any presented certificate completes the handshake (the client proves it
   * holds the key); whether it is an admin certificate is decided per call by {@code AdminAccess},
   * so a wrong one gets PERMISSION_DENIED with its fingerprint rather than a bare TLS failure.
   */
  public SslContext adminServerContext() {
    try {
      return GrpcSslContexts.configure(SslContextBuilder.forServer(key, chain.toArray(X509Certificate[]::new)))
          .trustManager(new AnyClientCertificate())
          .clientAuth(ClientAuth.OPTIONAL).build();
    } catch (SSLException e) {
      throw new EntanglementConfigurationException("mutual TLS could not be set up for the admin server: " + e.getMessage(), e);
    }
  }

  /**
   * The browser endpoint's TLS: this node's certificate, no client certificate (browsers are
   * identified by the application from their upgrade request). A JDK context: the endpoint runs on
   * Netty's own artifact, not on gRPC's shaded copy.
   */
  public javax.net.ssl.SSLContext webServerContext() {
    try {
      java.security.KeyStore store = java.security.KeyStore.getInstance("PKCS12");
      store.load(null, null);
      char[] password = new char[0];
      store.setKeyEntry("node", key, password, chain.toArray(X509Certificate[]::new));
      javax.net.ssl.KeyManagerFactory keys = javax.net.ssl.KeyManagerFactory.getInstance(
          javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
      keys.init(store, password);
      javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
      context.init(keys.getKeyManagers(), null, null);
      return context;
    } catch (GeneralSecurityException | IOException e) {
      throw new EntanglementConfigurationException("TLS could not be set up for the browser endpoint "
          + "(entanglement.web.listen): " + e.getMessage(), e);
    }
  }

  SslContext clientContext() {
    try {
      return GrpcSslContexts.forClient().keyManager(key, chain.toArray(X509Certificate[]::new))
          .trustManager(trust).build();
    } catch (SSLException e) {
      throw new EntanglementConfigurationException("mutual TLS could not be set up for dialing: " + e.getMessage(), e);
    }
  }

  private static List<X509Certificate> certificates(String setting, String file) {
    Path path = Path.of(file);
    try (InputStream in = Files.newInputStream(path)) {
      Collection<? extends java.security.cert.Certificate> read = CertificateFactory.getInstance("X.509").generateCertificates(in);
      List<X509Certificate> certificates = new ArrayList<>();
      for (var certificate : read) {
        certificates.add((X509Certificate) certificate);
      }
      if (certificates.isEmpty()) {
        throw new EntanglementConfigurationException(
            "Setting %s has the value '%s', a file with no certificate in it; expected a PEM file with at least one "
                .formatted(setting, file) + "-----BEGIN CERTIFICATE----- block");
      }
      return certificates;
    } catch (IOException e) {
      throw new EntanglementConfigurationException("Setting %s has the value '%s', which cannot be read (%s); expected a PEM file"
          .formatted(setting, file, e), e);
    } catch (GeneralSecurityException e) {
      throw new EntanglementConfigurationException("Setting %s has the value '%s', which holds no readable certificate (%s); "
          .formatted(setting, file, e.getMessage()) + "expected a PEM file of X.509 certificates", e);
    }
  }

  private static PrivateKey privateKey(String file) {
    String setting = EntanglementSettings.TLS_PRIVATE_KEY;
    String text;
    try {
      text = Files.readString(Path.of(file), StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new EntanglementConfigurationException("Setting %s has the value '%s', which cannot be read (%s); expected a PEM file"
          .formatted(setting, file, e), e);
    }
    int begin = text.indexOf("-----BEGIN PRIVATE KEY-----");
    int end = text.indexOf("-----END PRIVATE KEY-----");
    if (begin < 0 || end < begin) {
      throw new EntanglementConfigurationException(("Setting %s has the value '%s', which holds no PKCS#8 private key; "
          + "expected a PEM file with a -----BEGIN PRIVATE KEY----- block (convert others with "
          + "'openssl pkcs8 -topk8 -nocrypt')").formatted(setting, file));
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(text.substring(begin + "-----BEGIN PRIVATE KEY-----".length(), end));
    } catch (IllegalArgumentException e) {
      throw new EntanglementConfigurationException("Setting %s has the value '%s', whose key is not valid base64"
          .formatted(setting, file), e);
    }
    for (String algorithm : List.of("EC", "RSA", "Ed25519")) {
      try {
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException tryNext) {
        // not this algorithm
      }
    }
    throw new EntanglementConfigurationException(("Setting %s has the value '%s', whose key is neither an EC, RSA nor "
        + "Ed25519 PKCS#8 key").formatted(setting, file));
  }

  /** The key must belong to the certificate: sign with one, verify with the other. */
  private static void checkPair(X509Certificate certificate, PrivateKey key, String certificateFile, String keyFile) {
    String algorithm = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> key.getAlgorithm();
    };
    try {
      byte[] probe = "entanglement".getBytes(StandardCharsets.US_ASCII);
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(certificate.getPublicKey());
      verifier.update(probe);
      if (verifier.verify(signature)) {
        return;
      }
    } catch (GeneralSecurityException mismatch) {
      // reported below
    }
    throw new EntanglementConfigurationException(("Setting %s has the value '%s', whose key does not belong to the "
        + "certificate in %s ('%s', subject %s); expected the private key of that certificate").formatted(
        EntanglementSettings.TLS_PRIVATE_KEY, keyFile, EntanglementSettings.TLS_CERTIFICATE, certificateFile,
        certificate.getSubjectX500Principal().getName()));
  }
}
