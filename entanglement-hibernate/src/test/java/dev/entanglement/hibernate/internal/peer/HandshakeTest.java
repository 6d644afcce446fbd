package dev.entanglement.hibernate.internal.peer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.PeerIdentity;
import dev.entanglement.proto.v1.Hello;
import io.grpc.Status;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The Hello check as a table: a Hello, the certificate presented, and what it must come to. */
class HandshakeTest {
  private static final Handshake.Context INBOUND = new Handshake.Context("a", false, "127.0.0.1:5000");
  private static final Handshake.Context DIALED = new Handshake.Context("a", true, "b.example:7000");
  private static final Handshake.Certificate B_CERT =
      new Handshake.Certificate("CN=b", "AA:BB", Set.of("b", "localhost"));

  private static Hello hello(int version, String name) {
    return Hello.newBuilder().setProtocolVersion(version).setNodeName(name).build();
  }

  /** name, hello, context, certificate, expected identity (accepted) or null, expected refusal, status, description. */
  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("plaintext peer", hello(1, "b"), INBOUND, null,
            PeerIdentity.unverified("b"), null, null, null),
        Arguments.of("peer named in its certificate", hello(1, "b"), INBOUND, B_CERT,
            new PeerIdentity("b", "AA:BB", "CN=b"), null, null, null),
        Arguments.of("name with dots, dashes and underscores", hello(1, "node-1.eu_west"), INBOUND, null,
            PeerIdentity.unverified("node-1.eu_west"), null, null, null),
        Arguments.of("newer protocol", hello(2, "future"), INBOUND, null, null,
            Handshake.Reason.PROTOCOL_VERSION, Status.Code.FAILED_PRECONDITION,
            "peer 'future' speaks protocol version 2; node 'a' speaks version 1"),
        Arguments.of("no protocol version", hello(0, "b"), INBOUND, null, null,
            Handshake.Reason.PROTOCOL_VERSION, Status.Code.FAILED_PRECONDITION,
            "peer 'b' speaks protocol version 0; node 'a' speaks version 1"),
        Arguments.of("empty name", hello(1, ""), INBOUND, null, null,
            Handshake.Reason.INVALID_NAME, Status.Code.INVALID_ARGUMENT,
            "the peer's Hello has an invalid node name ''"),
        Arguments.of("name with spaces", hello(1, "no spaces allowed"), INBOUND, null, null,
            Handshake.Reason.INVALID_NAME, Status.Code.INVALID_ARGUMENT,
            "the peer's Hello has an invalid node name 'no spaces allowed'"),
        Arguments.of("name too long", hello(1, "n".repeat(65)), INBOUND, null, null,
            Handshake.Reason.INVALID_NAME, Status.Code.INVALID_ARGUMENT,
            "the peer's Hello has an invalid node name '" + "n".repeat(65) + "'"),
        Arguments.of("this node's own name", hello(1, "a"), INBOUND, null, null,
            Handshake.Reason.SAME_NAME, Status.Code.FAILED_PRECONDITION,
            "the peer has the same node name 'a' as this node: every node needs a name of its own "
                + "(entanglement.node.name), or a node dialed itself"),
        Arguments.of("own name even with a certificate for it", hello(1, "a"), INBOUND,
            new Handshake.Certificate("CN=a", "CC", Set.of("a")), null,
            Handshake.Reason.SAME_NAME, Status.Code.FAILED_PRECONDITION,
            "the peer has the same node name 'a' as this node: every node needs a name of its own "
                + "(entanglement.node.name), or a node dialed itself"),
        Arguments.of("impostor accepted on this side", hello(1, "c"), INBOUND, B_CERT, null,
            Handshake.Reason.CERTIFICATE_MISMATCH, Status.Code.PERMISSION_DENIED,
            "node 'a' refused the connection from 127.0.0.1:5000: it introduced itself as 'c', but its "
                + "certificate (subject CN=b, SHA-256 fingerprint AA:BB) is issued to " + B_CERT.names()),
        Arguments.of("impostor dialed by this side", hello(1, "c"), DIALED, B_CERT, null,
            Handshake.Reason.CERTIFICATE_MISMATCH, Status.Code.PERMISSION_DENIED,
            "node 'a' refused the connection to b.example:7000: it introduced itself as 'c', but its "
                + "certificate (subject CN=b, SHA-256 fingerprint AA:BB) is issued to " + B_CERT.names()),
        Arguments.of("certificate without readable names", hello(1, "b"), INBOUND,
            new Handshake.Certificate("CN=?", "DD", Set.of()), null,
            Handshake.Reason.CERTIFICATE_MISMATCH, Status.Code.PERMISSION_DENIED,
            "node 'a' refused the connection from 127.0.0.1:5000: it introduced itself as 'b', but its "
                + "certificate (subject CN=?, SHA-256 fingerprint DD) is issued to []"),
        Arguments.of("version is checked before the name", hello(3, "a"), INBOUND, null, null,
            Handshake.Reason.PROTOCOL_VERSION, Status.Code.FAILED_PRECONDITION,
            "peer 'a' speaks protocol version 3; node 'a' speaks version 1"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void check(String name, Hello hello, Handshake.Context here, Handshake.Certificate certificate,
      PeerIdentity accepted, Handshake.Reason reason, Status.Code code, String description) {
    Handshake.Result result = Handshake.check(hello, here, certificate);
    if (accepted != null) {
      assertThat(result).isEqualTo(new Handshake.Accepted(accepted));
      return;
    }
    assertThat(result).isInstanceOf(Handshake.Refused.class);
    Handshake.Refused refused = (Handshake.Refused) result;
    assertThat(refused.reason()).isEqualTo(reason);
    assertThat(refused.status().getCode()).isEqualTo(code);
    assertThat(refused.description()).isEqualTo(description);
  }
}
