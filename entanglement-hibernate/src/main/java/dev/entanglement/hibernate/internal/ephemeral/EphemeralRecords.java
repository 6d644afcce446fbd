package dev.entanglement.hibernate.internal.ephemeral;

import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.proto.v1.Attribute;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Records of ephemeral types as wire attributes, for the member link (a follower's objects travel
 * to the member holding the links and back), with the same codec as the peers' messages.
 * Thread-safe: codecs are immutable and cached per type.
 */
public final class EphemeralRecords {
  private static final Map<Class<?>, RecordCodec> CODECS = new ConcurrentHashMap<>();

  private EphemeralRecords() {}

  /** @throws IllegalArgumentException naming why the type cannot be an ephemeral type */
  public static void check(Class<?> type) {
    codec(type);
  }

  /** @throws IllegalArgumentException when the type cannot be an ephemeral type */
  public static List<Attribute> encode(Object record) {
    return codec(record.getClass()).encode(record);
  }

  /** @throws DecodeException when the attributes do not fit the record */
  public static Object decode(Class<?> type, List<Attribute> attributes) throws DecodeException {
    return codec(type).decode(attributes);
  }

  private static RecordCodec codec(Class<?> type) {
    return CODECS.computeIfAbsent(type, RecordCodec::new);
  }
}
