package dev.entanglement.hibernate.policy;

import java.util.Set;

/**
 * A received message about one object, before anything is decoded or constructed: the first,
 * cheap receive stage. Immutable.
 *
 * @param kind what the message asks
 * @param entityName the entity name as received
 * @param entityType the entity class, or null if this node has no such {@code @Entangled} entity;
 *     for an ephemeral object, its record class, or null if this node has not registered it
 * @param idText the object's id as text
 * @param owner the owner the message names (for a request: the owner it is addressed to)
 * @param origin the node that made the request, or the owner for a change
 * @param attributeNames the names of the attributes carried
 * @param via for a request, its authenticated path: the origin, then every node it passed
 *     through, the last one being the peer this node received it from; each name was recorded by
 *     the node that received the request from that node, as its certificate (or, for a browser,
 *     its {@code BrowserIdentity}) proved it. With signed state the origin's signature was
 *     verified too. Empty for changes and transitions.
 */
public record IncomingMessage(Kind kind, String entityName, Class<?> entityType, String idText, String owner,
    String origin, Set<String> attributeNames, java.util.List<String> via) {
  public IncomingMessage {
    via = via == null ? java.util.List.of() : java.util.List.copyOf(via);
  }

  /** As the canonical constructor, with an empty path (changes, transitions). */
  public IncomingMessage(Kind kind, String entityName, Class<?> entityType, String idText, String owner, String origin,
      Set<String> attributeNames) {
    this(kind, entityName, entityType, idText, owner, origin, attributeNames, java.util.List.of());
  }

  /** What a received message asks. */
  public enum Kind {
    /** The owner's new state of an object. */
    UPSERT,
    /** The owner deleted the object. */
    DELETE,
    /** A request to the owner to change attributes of an object. */
    UPDATE_REQUEST,
    /** A request to the owner to create an object. */
    CREATE_REQUEST,
    /** A request to the owner to delete an object. */
    REMOVE_REQUEST,
    /** Provisional state of a transition. */
    TRANSITION
  }

  /** Whether the message asks the owner to do something (update, create or remove). */
  public boolean isRequest() {
    return kind == Kind.UPDATE_REQUEST || kind == Kind.CREATE_REQUEST || kind == Kind.REMOVE_REQUEST;
  }
}
