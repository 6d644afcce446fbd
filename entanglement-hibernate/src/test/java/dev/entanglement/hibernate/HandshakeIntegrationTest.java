package dev.entanglement.hibernate;

import static org.assertj.core.api.Assertions.assertThat;

import dev.entanglement.hibernate.testing.Database;
import dev.entanglement.hibernate.testing.RecordingPeer;
import dev.entanglement.hibernate.testing.TestNode;
import dev.entanglement.hibernate.testing.model.Item;
import dev.entanglement.proto.v1.ChangeBatch;
import dev.entanglement.proto.v1.Envelope;
import dev.entanglement.proto.v1.Hello;
import io.grpc.Status;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A peer that cannot be talked to is refused with a clear status; the node carries on. */
class HandshakeIntegrationTest {
  private final String address = "handshake-" + UUID.randomUUID();
  private TestNode node;

  @BeforeEach
  void start() {
    node = TestNode.builder("a", Database.H2, Item.class).listenInProcess(address).start();
  }

  @AfterEach
  void stop() {
    node.close();
  }

  private Status refusal(Envelope first) throws Exception {
    try (RecordingPeer peer = RecordingPeer.dial(address)) {
      peer.request(1);
      peer.send(first);
      return peer.awaitEnd();
    }
  }

  private void assertNodeStillAcceptsPeers() {
    try (RecordingPeer good = RecordingPeer.handshake(address, "good")) {
      assertThat(good.hellos().get(0).getNodeName()).isEqualTo("a");
      assertThat(good.hellos().get(0).getProtocolVersion()).isEqualTo(1);
    }
  }

  @Test
  void incompatibleProtocolVersion_refusedNamingBothVersions() throws Exception {
    Status status = refusal(Envelope.newBuilder()
        .setHello(Hello.newBuilder().setProtocolVersion(2).setNodeName("future")).build());
    assertThat(status.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(status.getDescription()).isEqualTo("peer 'future' speaks protocol version 2; node 'a' speaks version 1");
    assertNodeStillAcceptsPeers();
  }

  @Test
  void peerWithThisNodesName_refused() throws Exception {
    Status status = refusal(Envelope.newBuilder()
        .setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName("a")).build());
    assertThat(status.getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(status.getDescription()).isEqualTo("the peer has the same node name 'a' as this node: every node "
        + "needs a name of its own (entanglement.node.name), or a node dialed itself");
    assertNodeStillAcceptsPeers();
  }

  @Test
  void invalidPeerName_refused() throws Exception {
    Status status = refusal(Envelope.newBuilder()
        .setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName("no spaces allowed")).build());
    assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status.getDescription()).isEqualTo("the peer's Hello has an invalid node name 'no spaces allowed'");
    assertNodeStillAcceptsPeers();
  }

  @Test
  void changesBeforeHello_refused() throws Exception {
    Status status = refusal(Envelope.newBuilder().setChanges(ChangeBatch.newBuilder().setRequestId(1)).build());
    assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(status.getDescription()).isEqualTo("the first message must be a Hello, got a ChangeBatch");
    assertNodeStillAcceptsPeers();
  }

  @Test
  void secondHello_endsTheStream() throws Exception {
    try (RecordingPeer peer = RecordingPeer.handshake(address, "twice")) {
      peer.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(1).setNodeName("twice")).build());
      Status status = peer.awaitEnd();
      assertThat(status.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(status.getDescription()).isEqualTo("a second Hello on an open stream");
    }
    assertNodeStillAcceptsPeers();
  }
}
