package dev.entanglement.hibernate.internal.model;

import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.hibernate.persister.entity.EntityPersister;

/**
 * One replicated entity type (a concrete or abstract class of an {@code @Entangled} hierarchy):
 * how its identifier and each replicated property travel. Immutable; built at boot.
 */
public final class EntangledType {
  private final String name;
  private final EntityPersister persister;
  private final boolean coalesce;
  private final int priority;
  private final ScalarCodec idCodec;
  private final String[] propertyNames;
  private final PropertyCodec[] codecs;
  private final Map<String, Integer> indexByName = new HashMap<>();
  /** Whether any replicated attribute is a collection (checked per captured change: kept). */
  private final boolean hasCollections;

  EntangledType(String name, EntityPersister persister, boolean coalesce, int priority,
      ScalarCodec idCodec, PropertyCodec[] codecs) {
    this.name = name;
    this.persister = persister;
    this.coalesce = coalesce;
    this.priority = priority;
    this.idCodec = idCodec;
    this.propertyNames = persister.getPropertyNames();
    this.codecs = codecs;
    boolean collections = false;
    for (int i = 0; i < codecs.length; i++) {
      if (codecs[i] != null) {
        indexByName.put(propertyNames[i], i);
      }
      collections |= codecs[i] instanceof PropertyCodec.Elements;
    }
    this.hasCollections = collections;
  }

  /** The JPA entity name, which is the type's name on the wire. */
  public String name() {
    return name;
  }

  public EntityPersister persister() {
    return persister;
  }

  public boolean coalesce() {
    return coalesce;
  }

  public int priority() {
    return priority;
  }

  public ScalarCodec idCodec() {
    return idCodec;
  }

  /** The object's identifier as the text stored in the plugin's tables. */
  public String idText(Object id) {
    return id.toString();
  }

  /** The key of an object in outboxes and sweeps: {@code entity#id}. */
  public String key(String idText) {
    return name + '#' + idText;
  }

  /** The wire form of an object's state as decided by its owner. */
  public dev.entanglement.proto.v1.Change upsert(Object id, Object[] state, String owner, long serial) {
    List<Attribute> attributes = new java.util.ArrayList<>(codecs.length);
    encode(state, attributes);
    return dev.entanglement.proto.v1.Change.newBuilder()
        .setEntity(name).setId(idCodec.encode(id)).setOwner(owner).setSerial(serial)
        .setOperation(dev.entanglement.proto.v1.Operation.UPSERT)
        .addAllAttributes(attributes)
        .build();
  }

  /** The wire form of an object's deletion. */
  public dev.entanglement.proto.v1.Change delete(Object id, String owner, long serial) {
    return dev.entanglement.proto.v1.Change.newBuilder()
        .setEntity(name).setId(idCodec.encode(id)).setOwner(owner).setSerial(serial)
        .setOperation(dev.entanglement.proto.v1.Operation.DELETE)
        .build();
  }

  /**
   * The replicated attributes that differ between two states of an object (an update request
   * carries only those), without the version, which the owner bumps itself.
   */
  public Map<String, dev.entanglement.proto.v1.Value> changedAttributes(Object[] old, Object[] now) {
    Map<String, dev.entanglement.proto.v1.Value> changed = new java.util.LinkedHashMap<>();
    org.hibernate.type.Type[] types = persister.getPropertyTypes();
    int version = persister.isVersioned() ? persister.getVersionPropertyIndex() : -1;
    for (int i = 0; i < codecs.length; i++) {
      if (codecs[i] != null && i != version && (old == null || !types[i].isEqual(old[i], now[i]))) {
        changed.put(propertyNames[i], codecs[i].encode(now[i]));
      }
    }
    return changed;
  }

  /** The object's version in a state, encoded, or null for unversioned entities. */
  public dev.entanglement.proto.v1.Value version(Object[] state) {
    if (!persister.isVersioned() || state == null) {
      return null;
    }
    int index = persister.getVersionPropertyIndex();
    return codecs[index] == null ? null : codecs[index].encode(state[index]);
  }

  /** Encodes the replicated properties of an entity state array. */
  public void encode(Object[] state, List<Attribute> into) {
    for (int i = 0; i < codecs.length; i++) {
      if (codecs[i] != null) {
        into.add(Attribute.newBuilder().setName(propertyNames[i])
            .setValue(codecs[i].encode(state[i])).build());
      }
    }
  }

  /**
   * Builds the state to write from received attributes. Properties that are not replicated keep
   * their value in {@code base}; replicated properties missing from the message keep it too (a
   * sender with an older mapping).
   *
   * @param base the receiver's current state of the object, or a new object's state; modified
   */
  public Object[] decode(List<Attribute> attributes, Object[] base,
      PropertyCodec.ReferenceLoader loader) throws DecodeException {
    for (Attribute attribute : attributes) {
      Integer index = indexByName.get(attribute.getName());
      if (index == null) {
        throw new DecodeException(RejectReason.UNKNOWN_ATTRIBUTE,
            "entity %s has no replicated attribute '%s'".formatted(name, attribute.getName()));
      }
      Value value = attribute.getValue();
      base[index] = codecs[index].decode(value, base[index], name + "." + attribute.getName(), loader);
    }
    return base;
  }

  /** Whether the type replicates collections it owns (its own tables or join columns). */
  public boolean hasCollections() {
    return hasCollections;
  }

  /**
   * The entity's state as {@code persister.getValues} gives it, with the lazy collections it
   * replicates read through the stateless session that loaded it (a stateless session's lazy
   * collection cannot load itself later), so that the state can be encoded.
   */
  public Object[] values(org.hibernate.StatelessSession session, Object entity) {
    Object[] values = persister.getValues(entity);
    for (int i = 0; i < codecs.length; i++) {
      if (codecs[i] instanceof PropertyCodec.Elements
          && values[i] instanceof org.hibernate.collection.spi.PersistentCollection<?> collection
          && !collection.wasInitialized()) {
        session.fetch(collection);
      }
    }
    return values;
  }

  /** The collection of this role as the one attribute of an update request. */
  public Map<String, Value> collectionAttribute(String role, Object collection) {
    for (int i = 0; i < codecs.length; i++) {
      if (codecs[i] instanceof PropertyCodec.Elements elements && elements.persister().getRole().equals(role)) {
        return Map.of(propertyNames[i], elements.encode(collection));
      }
    }
    throw new IllegalArgumentException(name + " replicates no collection " + role);
  }

  /** Whether the collection of this role is one of the type's replicated attributes. */
  public boolean replicatesCollection(String role) {
    for (PropertyCodec codec : codecs) {
      if (codec instanceof PropertyCodec.Elements elements && elements.persister().getRole().equals(role)) {
        return true;
      }
    }
    return false;
  }

  /**
   * A copy of a state whose owned collections are copied into plain collections, read in the
   * session that is still open: capture keeps a flushed state until after commit, and the
   * application may go on changing (or a lazy collection may not be readable by then).
   */
  public Object[] detachCollections(Object[] state) {
    if (state == null || !hasCollections()) {
      return state;
    }
    Object[] copy = state.clone();
    for (int i = 0; i < codecs.length; i++) {
      if (codecs[i] instanceof PropertyCodec.Elements elements && copy[i] != null) {
        copy[i] = elements.copy(copy[i]);
      }
    }
    return copy;
  }

  /**
   * Writes the rows of the owned collections a received change carries (the join table, the
   * element table, or the join column of a {@code @OneToMany}'s elements), replacing what the
   * object held, in the caller's transaction, after the object's own row is written.
   *
   * @param owner the written entity, whose {@code state} holds the decoded collections
   * @param existed whether the object had rows before (their collection rows are removed first)
   */
  public void writeCollections(org.hibernate.engine.spi.SharedSessionContractImplementor session, Object id,
      Object owner, Object[] state, boolean existed, List<Attribute> received) {
    if (!hasCollections()) {
      return;
    }
    java.util.Set<String> carried = new java.util.HashSet<>();
    for (Attribute attribute : received) {
      carried.add(attribute.getName());
    }
    for (int i = 0; i < codecs.length; i++) {
      if (codecs[i] instanceof PropertyCodec.Elements elements && carried.contains(propertyNames[i])) {
        elements.write(session, id, owner, state[i], existed);
      }
    }
  }

  @Override
  public String toString() {
    return name;
  }
}
