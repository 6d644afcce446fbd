package dev.entanglement.hibernate.internal.ownership;

import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.proto.v1.RequestKind;
import dev.entanglement.proto.v1.Value;
import java.util.Map;

/**
 * A change of another node's object asked by this node, as captured in a transaction.
 *
 * @param key {@code entity#id}
 * @param attributes UPDATE: the changed attributes; CREATE: all; REMOVE: none
 * @param expectedVersion the version the change was made from, or null
 */
public record ForwardRequest(EntangledType type, Object id, String key, String owner, RequestKind kind,
    Map<String, Value> attributes, Value expectedVersion) {}
