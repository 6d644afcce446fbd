package dev.entanglement.hibernate.internal.peer;

import dev.entanglement.hibernate.PeerIdentity;
import dev.entanglement.hibernate.internal.signing.SignerKeys;
import dev.entanglement.hibernate.tls.Fingerprints;
import dev.entanglement.proto.v1.Hello;
import dev.entanglement.proto.v1.OwnerPosition;
import io.grpc.Status;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * Decides whether a received Hello may open a stream with this node: a pure function of the
 * Hello, this node's name and protocol version, and the certificate the peer presented. It
 * returns the peer's accepted identity or a refusal with its reason; it neither logs nor sends.
 * (It also builds this node's own Hello, the other half of the exchange.) Stateless.
 */
final class Handshake {
  /** The protocol version this node speaks. */
  static final int PROTOCOL_VERSION = 1;
  private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  /** The capability of a node that signs its state and verifies its peers' (entanglement.signing=required). */
  static final String SIGNED_STATE = "signed-state";

  private Handshake() {}

  /**
   * Signed state at the Hello, for a node that requires it: the peer must sign too, and its
   * certificate chain (in the Hello) must be trusted here and issued to its name; it is then kept
   * to verify the peer's changes. Null when accepted, else the refusal (the stream ends with
   * FAILED_PRECONDITION).
   */
  static String signingProblem(Hello hello, String nodeName, SignerKeys keys) {
    String name = hello.getNodeName();
    if (!hello.getCapabilitiesList().contains(SIGNED_STATE)) {
      return ("node '%s' requires signed state (entanglement.signing=required), but peer '%s' does not sign its "
          + "changes (entanglement.signing=off there, or an older version): set entanglement.signing the same on "
          + "both").formatted(nodeName, name);
    }
    SignerKeys.Offered offered = keys.offer(name, hello.getCertificatesList());
    if (offered.problem() != null) {
      return "node '%s' cannot verify the signed state of peer '%s': %s".formatted(nodeName, name, offered.problem());
    }
    return null;
  }

  /** Why a Hello was refused; each maps to the status the stream ends with. */
  enum Reason {
    PROTOCOL_VERSION(Status.Code.FAILED_PRECONDITION),
    INVALID_NAME(Status.Code.INVALID_ARGUMENT),
    SAME_NAME(Status.Code.FAILED_PRECONDITION),
    CERTIFICATE_MISMATCH(Status.Code.PERMISSION_DENIED);

    final Status.Code code;

    Reason(Status.Code code) {
      this.code = code;
    }
  }

  /** What this side knows of the stream when the Hello arrives. */
  record Context(String nodeName, boolean dialer, String address) {}

  /** The identity a peer's certificate proves: the names it is issued to, subject and fingerprint. */
  record Certificate(String subject, String fingerprint, Set<String> names) {
    /** Reads a presented certificate; null for none (in-process or plaintext). */
    static Certificate of(X509Certificate certificate) {
      if (certificate == null) {
        return null;
      }
      return new Certificate(certificate.getSubjectX500Principal().getName(), Fingerprints.sha256(certificate),
          namesOf(certificate));
    }
  }

  /** The outcome of a check. */
  sealed interface Result permits Accepted, Refused {}

  /** The peer may stream: who it is. */
  record Accepted(PeerIdentity identity) implements Result {}

  /** The peer may not stream: why, in words fit for its status and the log. */
  record Refused(Reason reason, String description) implements Result {
    Status status() {
      return Status.fromCode(reason.code).withDescription(description);
    }
  }

  /**
   * The capability of a node whose first Hello, when it dials, names no owner: it sends its
   * positions in a second Hello once the acceptor's Hello said who answers, filtered for that
   * peer (issue 17: a dialer does not know who answers an address, and positions name owners).
   * The acceptor plans its catch-up only then.
   */
  static final String POSITIONS_FOLLOW = "positions-follow";

  /** This node's Hello: its name, protocol, capabilities and how far it holds each owner. */
  static Hello hello(String nodeName, List<OwnerPosition> held) {
    return Hello.newBuilder()
        .setProtocolVersion(PROTOCOL_VERSION)
        .setNodeName(nodeName)
        .addCapabilities("batched-ack")
        .addCapabilities("catch-up")
        .addCapabilities(POSITIONS_FOLLOW)
        .addAllOwners(held)
        .build();
  }

  /** Whether the peer's Hello says it sends (dialing) or takes (accepting) positions after the Hellos. */
  static boolean positionsFollow(Hello hello) {
    return hello.getCapabilitiesList().contains(POSITIONS_FOLLOW);
  }

  /** Checks a Hello against this node and the peer's certificate (null without TLS). */
  static Result check(Hello hello, Context here, Certificate certificate) {
    String name = hello.getNodeName();
    if (hello.getProtocolVersion() != PROTOCOL_VERSION) {
      return new Refused(Reason.PROTOCOL_VERSION, "peer '%s' speaks protocol version %d; node '%s' speaks version %d"
          .formatted(name, hello.getProtocolVersion(), here.nodeName(), PROTOCOL_VERSION));
    }
    if (!NODE_NAME.matcher(name).matches()) {
      return new Refused(Reason.INVALID_NAME, "the peer's Hello has an invalid node name '%s'".formatted(name));
    }
    if (name.equals(here.nodeName())) {
      return new Refused(Reason.SAME_NAME, ("the peer has the same node name '%s' as this node: every node needs a "
          + "name of its own (entanglement.node.name), or a node dialed itself").formatted(name));
    }
    if (certificate == null) {
      return new Accepted(PeerIdentity.unverified(name));
    }
    if (!certificate.names().contains(name)) {
      return new Refused(Reason.CERTIFICATE_MISMATCH, ("node '%s' refused the connection %s %s: it introduced itself "
          + "as '%s', but its certificate (subject %s, SHA-256 fingerprint %s) is issued to %s").formatted(
          here.nodeName(), here.dialer() ? "to" : "from", here.address(), name, certificate.subject(),
          certificate.fingerprint(), certificate.names()));
    }
    return new Accepted(new PeerIdentity(name, certificate.fingerprint(), certificate.subject()));
  }

  /** The names a certificate is issued to: its subject CN and its DNS names (empty if unreadable). */
  static Set<String> namesOf(X509Certificate certificate) {
    return dev.entanglement.hibernate.internal.signing.CertificateNames.of(certificate);
  }
}
