package dev.entanglement.hibernate.internal.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** How a stream's ending status becomes a WebSocket close frame. */
class WebSocketStreamTest {
  @Test
  void statusesMapToCloseCodes() {
    assertThat(WebSocketStream.closeStatus(Status.OK)).isEqualTo(WebSocketCloseStatus.NORMAL_CLOSURE);
    assertThat(WebSocketStream.closeStatus(Status.RESOURCE_EXHAUSTED.withDescription("peer 'a' sent a message of more "
        + "than 65536 bytes (entanglement.peer.max_message_bytes)"))).isEqualTo(WebSocketCloseStatus.MESSAGE_TOO_BIG);
    assertThat(WebSocketStream.closeStatus(Status.RESOURCE_EXHAUSTED.withDescription("peer 'a' does not keep up: its "
        + "outbox holds more than 10 changes (entanglement.outbox.max_entries)")))
        .isEqualTo(WebSocketCloseStatus.TRY_AGAIN_LATER);
    assertThat(WebSocketStream.closeStatus(Status.INVALID_ARGUMENT)).isEqualTo(WebSocketCloseStatus.INVALID_PAYLOAD_DATA);
    assertThat(WebSocketStream.closeStatus(Status.PERMISSION_DENIED)).isEqualTo(WebSocketCloseStatus.POLICY_VIOLATION);
    assertThat(WebSocketStream.closeStatus(Status.UNAVAILABLE)).isEqualTo(WebSocketCloseStatus.TRY_AGAIN_LATER);
    assertThat(WebSocketStream.closeStatus(Status.INTERNAL)).isEqualTo(WebSocketCloseStatus.INTERNAL_SERVER_ERROR);
  }

  @Test
  void theReasonIsTheStatusAndItsDescriptionCutToWebSocketsLimitOnWholeCharacters() {
    assertThat(WebSocketStream.closeReason(Status.UNAVAILABLE.withDescription("gone"))).isEqualTo("UNAVAILABLE: gone");
    String longer = WebSocketStream.closeReason(Status.INVALID_ARGUMENT.withDescription("é".repeat(200)));
    assertThat(longer.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(WebSocketStream.MAX_CLOSE_REASON_BYTES);
    assertThat(longer).startsWith("INVALID_ARGUMENT: éé").endsWith("é...");
  }
}
