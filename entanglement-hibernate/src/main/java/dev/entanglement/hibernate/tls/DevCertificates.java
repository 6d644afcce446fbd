package dev.entanglement.hibernate.tls;

import java.io.IOException;
import java.io.StringWriter;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Development certificates, made with BouncyCastle (an optional dependency: add
 * {@code org.bouncycastle:bcpkix-jdk18on} to use this class). A CA, then one certificate per node
 * signed by it: EC P-256 keys, PEM files, the node name as subject CN and as a DNS name (with
 * {@code localhost}), valid for one year. Not for production: keep a real CA's keys elsewhere.
 *
 * <pre>
 * java -cp ... dev.entanglement.hibernate.tls.DevCertificates ca certs/ca
 * java -cp ... dev.entanglement.hibernate.tls.DevCertificates node certs/red --ca certs/ca --name red
 * java -cp ... dev.entanglement.hibernate.tls.DevCertificates fingerprint certs/red/certificate.pem
 * </pre>
 *
 * Each directory gets {@code certificate.pem} and {@code private-key.pem} (PKCS#8); the node's
 * settings are then {@code entanglement.tls.certificate}, {@code entanglement.tls.private_key} and
 * {@code entanglement.tls.trust} = the CA's {@code certificate.pem}.
 */
public final class DevCertificates {
  public static final String CERTIFICATE = "certificate.pem";
  public static final String PRIVATE_KEY = "private-key.pem";
  private static final Duration VALIDITY = Duration.ofDays(365);
  private static final SecureRandom RANDOM = new SecureRandom();

  private DevCertificates() {}

  /** Creates a CA in {@code dir}; returns its certificate. */
  public static X509Certificate createCa(Path dir, String name) throws IOException, GeneralSecurityException {
    KeyPair keys = newKeys();
    X500Name subject = new X500Name("CN=" + name);
    JcaX509v3CertificateBuilder builder = builder(subject, subject, keys);
    builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
    builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
    X509Certificate certificate = sign(builder, keys.getPrivate());
    write(dir, certificate, keys.getPrivate());
    return certificate;
  }

  /** Creates a node certificate in {@code dir}, signed by the CA in {@code caDir}; returns it. */
  public static X509Certificate createNode(Path dir, Path caDir, String nodeName)
      throws IOException, GeneralSecurityException {
    X509Certificate ca = readCertificate(caDir.resolve(CERTIFICATE));
    PrivateKey caKey = readPrivateKey(caDir.resolve(PRIVATE_KEY));
    KeyPair keys = newKeys();
    JcaX509v3CertificateBuilder builder = builder(
        X500Name.getInstance(ca.getSubjectX500Principal().getEncoded()), new X500Name("CN=" + nodeName), keys);
    builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
    builder.addExtension(Extension.extendedKeyUsage, false,
        new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
    builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
        new GeneralName(GeneralName.dNSName, nodeName), new GeneralName(GeneralName.dNSName, "localhost")}));
    builder.addExtension(Extension.authorityKeyIdentifier, false, new JcaX509ExtensionUtils().createAuthorityKeyIdentifier(ca));
    X509Certificate certificate = sign(builder, caKey);
    write(dir, certificate, keys.getPrivate());
    return certificate;
  }

  private static KeyPair newKeys() throws GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
    return generator.generateKeyPair();
  }

  private static JcaX509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys)
      throws GeneralSecurityException {
    Instant now = Instant.now();
    JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(issuer, new BigInteger(64, RANDOM).abs(),
        Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(VALIDITY)), subject, keys.getPublic());
    try {
      builder.addExtension(Extension.subjectKeyIdentifier, false,
          new JcaX509ExtensionUtils().createSubjectKeyIdentifier(keys.getPublic()));
    } catch (IOException e) {
      throw new GeneralSecurityException(e);
    }
    return builder;
  }

  private static X509Certificate sign(JcaX509v3CertificateBuilder builder, PrivateKey key) throws GeneralSecurityException {
    try {
      X509CertificateHolder holder = builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key));
      return new JcaX509CertificateConverter().getCertificate(holder);
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException(e);
    }
  }

  private static void write(Path dir, X509Certificate certificate, PrivateKey key) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(CERTIFICATE), pem(certificate));
    Path keyFile = dir.resolve(PRIVATE_KEY);
    Files.writeString(keyFile, pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(key, null).generate()));
    try {
      Files.setPosixFilePermissions(keyFile, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException notPosix) {
      // Windows: the file keeps the directory's permissions
    }
  }

  private static String pem(Object object) throws IOException {
    Writer text = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
      writer.writeObject(object);
    }
    return text.toString();
  }

  static X509Certificate readCertificate(Path file) throws IOException, GeneralSecurityException {
    try (var in = Files.newInputStream(file)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }

  static PrivateKey readPrivateKey(Path file) throws IOException {
    try (PEMParser parser = new PEMParser(Files.newBufferedReader(file))) {
      Object read = parser.readObject();
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      if (read instanceof PrivateKeyInfo info) {
        return converter.getPrivateKey(info);
      }
      if (read instanceof PEMKeyPair pair) {
        return converter.getKeyPair(pair).getPrivate();
      }
      throw new IOException(file + " holds no private key");
    }
  }

  /** {@code ca DIR [--name NAME]}, {@code node DIR --ca CADIR --name NAME}, {@code fingerprint CERT}. */
  public static void main(String[] args) throws Exception {
    String usage = "usage: DevCertificates ca DIR [--name NAME] | node DIR --ca CADIR --name NAME | fingerprint CERT.pem";
    if (args.length < 2) {
      System.err.println(usage);
      System.exit(2);
    }
    String name = option(args, "--name");
    switch (args[0]) {
      case "ca" -> {
        X509Certificate ca = createCa(Path.of(args[1]), name == null ? "Entanglement development CA" : name);
        System.out.println("CA written to " + args[1] + " (fingerprint " + Fingerprints.sha256(ca) + ")");
      }
      case "node" -> {
        String caDir = option(args, "--ca");
        if (caDir == null || name == null) {
          System.err.println(usage);
          System.exit(2);
        }
        X509Certificate node = createNode(Path.of(args[1]), Path.of(caDir), name);
        System.out.println("certificate of node '" + name + "' written to " + args[1]
            + " (fingerprint " + Fingerprints.sha256(node) + ")");
      }
      case "fingerprint" -> System.out.println(Fingerprints.sha256(readCertificate(Path.of(args[1]))));
      default -> {
        System.err.println(usage);
        System.exit(2);
      }
    }
  }

  private static String option(String[] args, String name) {
    for (int i = 0; i < args.length - 1; i++) {
      if (args[i].equals(name)) {
        return args[i + 1];
      }
    }
    return null;
  }
}
