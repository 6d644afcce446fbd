package dev.entanglement.hibernate.internal.signing;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The bytes a signature covers: a label naming the message type (so that a signature of one kind
 * of message can never pass for another), a newline, then the message's deterministic protobuf
 * serialization with the fields that legitimately change on the way cleared:
 * <ul>
 *   <li>{@link Change}: {@code signature}, {@code ttl_ms} (relays pass on the time left) and
 *       {@code handovers} (each hand-over of the chain is signed by its own owner, and checked
 *       link by link: the chain proves itself, and nesting it in every signature would grow it
 *       with every transfer), and the hash-tree fields of a batch signature ({@link HashTree});
 *   <li>{@link UpdateRequest}: {@code signature}, {@code origin_certificates}, {@code request_id} (per hop) and {@code via}
 *       (appended by each hop);
 *   <li>{@link TransitionUpdate}: {@code signature} and {@code origin_certificates}.
 * </ul>
 * Deterministic serialization writes fields in number order; the messages have no maps. Stateless.
 */
public final class CanonicalForm {
  private static final byte[] CHANGE = "entanglement.v1.Change\n".getBytes(StandardCharsets.UTF_8);
  private static final byte[] REQUEST = "entanglement.v1.UpdateRequest\n".getBytes(StandardCharsets.UTF_8);
  private static final byte[] TRANSITION = "entanglement.v1.TransitionUpdate\n".getBytes(StandardCharsets.UTF_8);

  private CanonicalForm() {}

  public static byte[] of(Change change) {
    return bytes(CHANGE, change.toBuilder().clearSignature().clearTtlMs().clearHandovers().clearSignatureLeaf()
        .clearSignatureLeaves().clearSignaturePath().build());
  }

  public static byte[] of(UpdateRequest request) {
    return bytes(REQUEST, request.toBuilder().clearSignature().clearRequestId().clearVia().clearOriginCertificates()
        .build());
  }

  public static byte[] of(TransitionUpdate update) {
    return bytes(TRANSITION, update.toBuilder().clearSignature().clearOriginCertificates().build());
  }

  private static byte[] bytes(byte[] label, MessageLite message) {
    byte[] out = new byte[label.length + message.getSerializedSize()];
    System.arraycopy(label, 0, out, 0, label.length);
    try {
      CodedOutputStream stream = CodedOutputStream.newInstance(out, label.length, out.length - label.length);
      stream.useDeterministicSerialization();
      message.writeTo(stream);
      stream.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // cannot happen writing to an array of the exact size
    }
    return out;
  }
}
