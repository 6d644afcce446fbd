package dev.entanglement.hibernate.internal.core;

import dev.entanglement.proto.v1.Change;

/**
 * Changes of an entity type this node does not have (a rolling upgrade deploys it elsewhere
 * first): kept and relayed as received, never decoded. Their object key is made from the wire
 * id alone.
 */
public final class RawChanges {
  /** The sending priority of raw changes: the {@code @Entangled} default (their type's is unknown here). */
  public static final int PRIORITY = 0;

  private RawChanges() {}

  /** The id as text (a UUID, a text or an integer id), or null for any other kind. */
  public static String idText(Change change) {
    return switch (change.getId().getKindCase()) {
      case UUID -> change.getId().getUuid();
      case TEXT -> change.getId().getText();
      case INTEGER -> Long.toString(change.getId().getInteger());
      default -> null;
    };
  }

  /** The object key {@code entity#id}, or null when the id is of no usable kind. */
  public static String key(Change change) {
    String id = idText(change);
    return id == null || id.isEmpty() ? null : change.getEntity() + '#' + id;
  }

  /** A raw change for the outboxes (coalesced: only the newest state of each object is kept here). */
  public static Outgoing outgoing(Change change) {
    String key = key(change);
    return key == null ? null : new Outgoing(key, PRIORITY, true, change);
  }
}
