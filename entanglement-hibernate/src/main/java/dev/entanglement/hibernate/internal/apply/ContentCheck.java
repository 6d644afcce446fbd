package dev.entanglement.hibernate.internal.apply;

import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.store.Bookkeeping.ObjectRow;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.hibernate.StatelessSession;

/**
 * Compares the row this node really holds with a received state that its bookkeeping says it
 * already has (a verifying full synchronization): a row deleted, altered or brought back behind
 * the plugin's back (plain SQL, a restored table) does not match. The stored row is read through
 * the entity's persister and encoded with the same codecs as the wire, and the encoded values are
 * compared attribute by attribute (never Java {@code equals} on entities), so attributes that are
 * not replicated never count as different.
 *
 * <p>Only a change of exactly the state the bookkeeping row records (same owner, epoch and serial)
 * is compared: a newer state held here is kept whatever the row says (the ordering rules of
 * {@link StateOrdering} stand), and an older one is never written back.
 *
 * <p>Stateless, so thread-safe; the session belongs to the caller.
 */
final class ContentCheck {
  private ContentCheck() {}

  /** Whether the change is the very state the bookkeeping row records, so its content may be compared. */
  static boolean sameState(ObjectRow known, Change change) {
    if (known == null || !known.owner().equals(change.getOwner()) || known.epoch() != change.getEpoch()
        || known.serial() != change.getSerial()) {
      return false;
    }
    return known.deleted() == (change.getOperation() == Operation.DELETE);
  }

  /**
   * What differs between the row held and the change, or null when they match.
   *
   * @return e.g. "row missing", "attribute 'name' differs", "row present though deleted"
   */
  static String difference(StatelessSession session, EntangledType type, Object id, Change change) {
    Object stored = EntityWriter.read(session, type.persister().getEntityName(), id);
    if (change.getOperation() == Operation.DELETE) {
      return stored == null ? null : "row present though deleted";
    }
    if (stored == null) {
      return "row missing";
    }
    if (stored.getClass() != type.persister().getMappedClass()) {
      return "row of another type (" + stored.getClass().getSimpleName() + ")";
    }
    List<Attribute> encoded = new ArrayList<>();
    type.encode(type.values(session, stored), encoded);
    Map<String, Value> held = new HashMap<>();
    for (Attribute attribute : encoded) {
      held.put(attribute.getName(), attribute.getValue());
    }
    List<String> differing = new ArrayList<>();
    for (Attribute attribute : change.getAttributesList()) {
      Value mine = held.get(attribute.getName());
      // an attribute this node does not map was refused when the state was first applied
      if (mine != null && !mine.equals(attribute.getValue())) {
        differing.add(attribute.getName());
      }
    }
    if (differing.isEmpty()) {
      return null;
    }
    return (differing.size() == 1 ? "attribute '%s' differs" : "attributes %s differ")
        .formatted(differing.size() == 1 ? differing.get(0) : differing);
  }
}
