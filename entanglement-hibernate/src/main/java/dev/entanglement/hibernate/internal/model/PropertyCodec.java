package dev.entanglement.hibernate.internal.model;

import dev.entanglement.hibernate.annotations.EntangledReference.WhenMissing;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Composite;
import dev.entanglement.proto.v1.Reference;
import dev.entanglement.proto.v1.RejectReason;
import dev.entanglement.proto.v1.Value;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.hibernate.metamodel.spi.EmbeddableInstantiator;
import org.hibernate.proxy.HibernateProxy;
import org.hibernate.type.ComponentType;

/**
 * Converts the value of one replicated property (a basic value, an embeddable, or a reference to
 * another replicated entity) to and from the wire. Immutable; built at boot.
 */
public sealed interface PropertyCodec {

  /** Loads referenced objects at the receiver. */
  interface ReferenceLoader {
    /** Returns the object, or null if this node does not have it. */
    Object load(EntangledType type, Object id);

    /** A reference to an object this node does not have, which writes its id (a Hibernate proxy, never initialized here). */
    Object placeholder(EntangledType type, Object id);

    /** Loads with {@code load}; placeholders are proxies of {@code session}. */
    static ReferenceLoader of(org.hibernate.engine.spi.SharedSessionContractImplementor session,
        java.util.function.BiFunction<EntangledType, Object, Object> load) {
      return new ReferenceLoader() {
        @Override
        public Object load(EntangledType type, Object id) {
          return load.apply(type, id);
        }

        @Override
        public Object placeholder(EntangledType type, Object id) {
          return type.persister().createProxy(id, session);
        }
      };
    }
  }

  Value encode(Object value);

  /**
   * @param current the receiver's current value of the property (null for a new object); kept
   *     for attributes that are not replicated inside embeddables
   */
  Object decode(Value value, Object current, String what, ReferenceLoader loader)
      throws DecodeException;

  /** A basic value. */
  record Scalar(ScalarCodec codec) implements PropertyCodec {
    @Override
    public Value encode(Object value) {
      return codec.encode(value);
    }

    @Override
    public Object decode(Value value, Object current, String what, ReferenceLoader loader)
        throws DecodeException {
      return codec.decode(value, what);
    }
  }

  /**
   * A reference to an object of another replicated entity type. It travels as the declared target
   * type and the id; the receiver's lookup by that type also finds objects of its subclasses.
   */
  final class Ref implements PropertyCodec {
    private final String targetName;
    private final Map<String, EntangledType> types;
    private final WhenMissing whenMissing;

    /**
     * @param types all replicated types by name, filled once every codec is built
     * @param whenMissing what a receiver does without the referenced object ({@link
     *     dev.entanglement.hibernate.annotations.EntangledReference})
     */
    public Ref(String targetName, Map<String, EntangledType> types, WhenMissing whenMissing) {
      this.targetName = targetName;
      this.types = types;
      this.whenMissing = whenMissing;
    }

    @Override
    public Value encode(Object value) {
      if (value == null) {
        return Values.NULL;
      }
      EntangledType target = types.get(targetName);
      var lazy = HibernateProxy.extractLazyInitializer(value);
      Object id = lazy != null
          ? lazy.getInternalIdentifier()
          : target.persister().getIdentifier(value, (org.hibernate.engine.spi.SharedSessionContractImplementor) null);
      return Value.newBuilder().setReference(Reference.newBuilder()
          .setEntity(targetName).setId(target.idCodec().encode(id))).build();
    }

    @Override
    public Object decode(Value value, Object current, String what, ReferenceLoader loader)
        throws DecodeException {
      if (value.getKindCase() == Value.KindCase.NULL) {
        return null;
      }
      if (value.getKindCase() != Value.KindCase.REFERENCE) {
        throw new DecodeException(RejectReason.WRONG_TYPE, "%s expects a reference to %s, got %s"
            .formatted(what, targetName, Values.describeKind(value)));
      }
      Reference ref = value.getReference();
      EntangledType type = types.get(ref.getEntity());
      if (type == null) {
        throw new DecodeException(RejectReason.UNKNOWN_ENTITY,
            "%s references unknown entity type '%s'".formatted(what, ref.getEntity()));
      }
      Object id = type.idCodec().decode(ref.getId(), what + " (id of the referenced " + type.name() + ")");
      if (id == null) {
        throw new DecodeException(RejectReason.MALFORMED, what + " references an object without id");
      }
      Object target = loader.load(type, id);
      if (target != null) {
        return target;
      }
      return switch (whenMissing) {
        case PARK -> throw new DecodeException(RejectReason.MISSING_REFERENCE,
            "%s references %s#%s, which this node does not have".formatted(what, type.name(), id));
        case STORE_NULL -> null; // @EntangledReference(whenMissing = STORE_NULL)
        case DANGLE -> loader.placeholder(type, id); // the id as it is; resolves once the object arrives
      };
    }
  }

  /**
   * A collection the object owns (an {@code @ElementCollection}, a {@code @ManyToMany}, a
   * {@code @OneToMany} without {@code mappedBy}): its whole content travels as the owner holds it,
   * in iteration order (list order for lists), each element through {@code element} (a basic
   * value, an embeddable, or a reference), map keys through {@code key}. Decoded into a fresh
   * collection of the mapping's own kind (a sorted set keeps its comparator); writing its rows is
   * {@link EntangledType#writeCollections}'s.
   *
   * <p>An element reference the receiver cannot resolve follows the collection's {@code
   * @EntangledReference(whenMissing)}: PARK rejects the owner's change (parked until the element
   * arrives), STORE_NULL leaves the element out, DANGLE keeps its id.
   */
  final class Elements implements PropertyCodec {
    private final org.hibernate.persister.collection.CollectionPersister persister;
    private final PropertyCodec element;
    private final ScalarCodec key;

    /** @param key the codec of map keys; null for other collections */
    Elements(org.hibernate.persister.collection.CollectionPersister persister, PropertyCodec element, ScalarCodec key) {
      this.persister = persister;
      this.element = element;
      this.key = key;
    }

    org.hibernate.persister.collection.CollectionPersister persister() {
      return persister;
    }

    /**
     * Reads a lazy collection never read yet, in the session that loaded it: a stateless session
     * (the plugin's catch-ups and reads) through its {@code fetch}, which a lazy read would refuse.
     */
    private static void initialize(Object value) {
      if (value instanceof org.hibernate.collection.spi.PersistentCollection<?> collection
          && !collection.wasInitialized()) {
        if (collection instanceof org.hibernate.collection.spi.AbstractPersistentCollection<?> attached
            && attached.getSession() instanceof org.hibernate.StatelessSession stateless) {
          stateless.fetch(collection);
        } else {
          collection.forceInitialization();
        }
      }
    }

    /** A plain copy of a collection value (initialized first if lazy), of the mapping's own kind. */
    @SuppressWarnings("unchecked")
    Object copy(Object value) {
      initialize(value);
      if (key != null) {
        Map<Object, Object> source = (Map<Object, Object>) value;
        Map<Object, Object> copy = (Map<Object, Object>) persister.getCollectionSemantics()
            .instantiateRaw(source.size(), persister);
        copy.putAll(source);
        return copy;
      }
      java.util.Collection<Object> source = (java.util.Collection<Object>) value;
      java.util.Collection<Object> copy = (java.util.Collection<Object>) persister.getCollectionSemantics()
          .instantiateRaw(source.size(), persister);
      copy.addAll(source);
      return copy;
    }

    /** Replaces the collection's rows of one owner with {@code value}'s elements. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    void write(org.hibernate.engine.spi.SharedSessionContractImplementor session, Object id, Object owner,
        Object value, boolean existed) {
      if (existed) {
        persister.remove(id, session);
      }
      if (value == null) {
        return;
      }
      org.hibernate.collection.spi.PersistentCollection<?> wrapped =
          value instanceof org.hibernate.collection.spi.PersistentCollection<?> collection ? collection
              : ((org.hibernate.collection.spi.CollectionSemantics) persister.getCollectionSemantics())
                  .wrap(value, persister, session);
      wrapped.setOwner(owner);
      persister.recreate(wrapped, id, session);
    }

    @Override
    public Value encode(Object value) {
      if (value == null) {
        return Value.newBuilder().setElements(dev.entanglement.proto.v1.Elements.getDefaultInstance()).build();
      }
      initialize(value);
      dev.entanglement.proto.v1.Elements.Builder elements = dev.entanglement.proto.v1.Elements.newBuilder();
      if (key != null) {
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
          elements.addKeys(key.encode(entry.getKey()));
          elements.addElements(element.encode(entry.getValue()));
        }
      } else {
        for (Object e : (java.util.Collection<?>) value) {
          elements.addElements(element.encode(e));
        }
      }
      return Value.newBuilder().setElements(elements).build();
    }

    @Override
    @SuppressWarnings("unchecked")
    public Object decode(Value value, Object current, String what, ReferenceLoader loader) throws DecodeException {
      if (value.getKindCase() != Value.KindCase.ELEMENTS) {
        throw new DecodeException(RejectReason.WRONG_TYPE, "%s expects a collection, got %s"
            .formatted(what, Values.describeKind(value)));
      }
      dev.entanglement.proto.v1.Elements received = value.getElements();
      int size = received.getElementsCount();
      if (key != null ? received.getKeysCount() != size : received.getKeysCount() != 0) {
        throw new DecodeException(RejectReason.MALFORMED, "%s has %d elements and %d keys; expected %s"
            .formatted(what, size, received.getKeysCount(), key != null ? "one key per element" : "no keys"));
      }
      Object raw = persister.getCollectionSemantics().instantiateRaw(size, persister);
      boolean skipsMissing = element instanceof Ref ref && ref.whenMissing == WhenMissing.STORE_NULL;
      for (int i = 0; i < size; i++) {
        String at = what + "[" + i + "]";
        Object e = element.decode(received.getElements(i), null, at, loader);
        if (e == null && skipsMissing && received.getElements(i).getKindCase() != Value.KindCase.NULL) {
          continue; // STORE_NULL: an element this node does not have is left out
        }
        if (key != null) {
          ((Map<Object, Object>) raw).put(key.decode(received.getKeys(i), at + " (key)"), e);
        } else {
          ((java.util.Collection<Object>) raw).add(e);
        }
      }
      return raw;
    }
  }

  /** An embeddable value: its replicated attributes by name. */
  record Embedded(ComponentType type, List<String> names, List<PropertyCodec> codecs)
      implements PropertyCodec {

    @Override
    public Value encode(Object value) {
      if (value == null) {
        return Values.NULL;
      }
      Object[] values = type.getPropertyValues(value);
      Composite.Builder composite = Composite.newBuilder();
      for (int i = 0; i < codecs.size(); i++) {
        PropertyCodec codec = codecs.get(i);
        if (codec != null) {
          composite.addAttributes(Attribute.newBuilder()
              .setName(names.get(i)).setValue(codec.encode(values[i])));
        }
      }
      return Value.newBuilder().setComposite(composite).build();
    }

    @Override
    public Object decode(Value value, Object current, String what, ReferenceLoader loader)
        throws DecodeException {
      if (value.getKindCase() == Value.KindCase.NULL) {
        return null;
      }
      if (value.getKindCase() != Value.KindCase.COMPOSITE) {
        throw new DecodeException(RejectReason.WRONG_TYPE, "%s expects an embeddable, got %s"
            .formatted(what, Values.describeKind(value)));
      }
      Object[] currentValues = current == null ? null : type.getPropertyValues(current);
      Object[] values = new Object[codecs.size()];
      Map<String, Value> received = new HashMap<>();
      for (Attribute attribute : value.getComposite().getAttributesList()) {
        received.put(attribute.getName(), attribute.getValue());
      }
      for (int i = 0; i < codecs.size(); i++) {
        PropertyCodec codec = codecs.get(i);
        Object currentValue = currentValues == null ? null : currentValues[i];
        if (codec == null) {
          values[i] = currentValue;
          continue;
        }
        Value v = received.remove(names.get(i));
        values[i] = codec.decode(v == null ? Values.NULL : v, currentValue, what + "." + names.get(i), loader);
      }
      if (!received.isEmpty()) {
        throw new DecodeException(RejectReason.UNKNOWN_ATTRIBUTE, "%s has no replicated attribute %s"
            .formatted(what, received.keySet().iterator().next()));
      }
      EmbeddableInstantiator instantiator = type.getMappingModelPart().getEmbeddableTypeDescriptor()
          .getRepresentationStrategy().getInstantiator();
      return instantiator.instantiate(() -> values);
    }
  }
}
