package dev.entanglement.hibernate.internal.policy;

import dev.entanglement.hibernate.internal.model.PropertyCodec;
import org.hibernate.engine.spi.SharedSessionContractImplementor;
import dev.entanglement.hibernate.internal.store.ConnectionBudget;
import java.util.function.Function;
import dev.entanglement.hibernate.PolicyDenial.Check;
import dev.entanglement.hibernate.PolicyDenial.Direction;
import dev.entanglement.hibernate.internal.core.RawChanges;
import dev.entanglement.hibernate.internal.model.DecodeException;
import dev.entanglement.hibernate.internal.model.EntangledModel;
import dev.entanglement.hibernate.internal.model.EntangledType;
import dev.entanglement.hibernate.internal.model.Values;
import dev.entanglement.hibernate.policy.Decision;
import dev.entanglement.hibernate.policy.IncomingMessage;
import dev.entanglement.hibernate.policy.IncomingObject;
import dev.entanglement.hibernate.policy.ObjectRef;
import dev.entanglement.proto.v1.Attribute;
import dev.entanglement.proto.v1.Change;
import dev.entanglement.proto.v1.Operation;
import dev.entanglement.proto.v1.TransitionUpdate;
import dev.entanglement.proto.v1.UpdateRequest;
import dev.entanglement.proto.v1.Value;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.hibernate.engine.spi.SessionFactoryImplementor;

/**
 * The plugin's control points in wire terms: turns changes, requests and transitions into what
 * policies see, asks the {@link PolicyEngine}, and counts and logs each denial. Returns the
 * denial's reason, or null when the object may pass.
 *
 * <h2>Concurrency</h2>
 * Thread-safe: stateless apart from the engine and {@code holds} (raw changes held per peer),
 * which are thread-safe themselves.
 */
public final class PolicyPoints {
  private final PolicyEngine engine;
  private final EntangledModel model;
  private final SessionFactoryImplementor factory;
  private final RawHolds holds = new RawHolds();

  public PolicyPoints(PolicyEngine engine, EntangledModel model, SessionFactoryImplementor factory) {
    this.engine = engine;
    this.model = model;
    this.factory = factory;
  }

  private volatile java.util.function.Function<String, Class<?>> ephemeralTypes = name -> null;

  /** Where the classes of ephemeral types are looked up by wire name. */
  public void ephemeralTypes(java.util.function.Function<String, Class<?>> lookup) {
    this.ephemeralTypes = lookup;
  }

  private volatile Function<Change, Object> ephemeralValues = change -> null;

  /** How an ephemeral change becomes its record, for {@link ObjectRef#entity()} (null when it cannot). */
  public void ephemeralValues(Function<Change, Object> decoder) {
    this.ephemeralValues = decoder;
  }

  public PolicyEngine engine() {
    return engine;
  }

  // ---- send ----------------------------------------------------------------------------------

  /** Whether a change may go to the peer. */
  public String sendDenied(String peer, Change change) {
    if (engine.isEmpty() || peer == null) {
      return null;
    }
    if (change.getEphemeral()) {
      // asked for types not registered here too (entityType null): a relay that does not know
      // the record must still keep one team's objects from another
      Class<?> javaType = ephemeralTypes.apply(change.getEntity());
      ObjectRef ref = new EphemeralRef(javaType, change, ephemeralValues);
      Decision decision = engine.send(peer, null, ref);
      if (decision.isDeny()) {
        engine.denied(peer, Direction.SEND, Check.SEND, "the ephemeral " + change.getEntity() + " '" + change.getId().getText() + "'", decision);
        return decision.reason();
      }
      return null;
    }
    EntangledType type = model.byName(change.getEntity());
    if (type == null) {
      return sendUndecoded(peer, change);
    }
    String owner = change.getHandoverTo().isEmpty() ? change.getOwner() : change.getHandoverTo();
    if (change.getOperation() == Operation.UPSERT) {
      // the state being sent is in hand: a rule that reads it decodes it, with no read of the row
      // (a read per change and peer halved the commit rate of a node with such a rule)
      Object id;
      try {
        id = type.idCodec().decode(change.getId(), type.name() + " id");
      } catch (DecodeException e) {
        return null;
      }
      return decide(peer, type, new StateRef(type, id, owner, change), "the change of");
    }
    return send(peer, type, change.getId(), owner, change.getOperation() == Operation.DELETE, "the change of");
  }

  /**
   * The withdrawal to send the peer in place of {@code change}, or null for none: {@code change}'s
   * new state is denied to the peer (or it is a withdrawal being passed on), and the policies
   * allow the peer {@code previous}, the state before it, so the peer may hold the object. A peer
   * that was not allowed the previous state either never could hold the object and hears
   * nothing of it (docs/design/withdrawal.md). Asking about the previous state is not a denial:
   * it is neither counted nor logged.
   *
   * @param previous the object's state before the change, as this node knew it; null when it
   *     had none (an insert) or does not know it
   */
  public Change withdrawal(String peer, Change change, Change previous) {
    if (previous == null || peer == null || previous.getOperation() != Operation.UPSERT
        || change.getOperation() == Operation.DELETE) {
      return null;
    }
    if (!engine.isEmpty() && !allowedBefore(peer, previous)) {
      return null;
    }
    return change.getOperation() == Operation.WITHDRAW ? change : withdrawalOf(change);
  }

  /** The withdrawal of the object a change is about, at the change's serial and epoch. */
  public static Change withdrawalOf(Change change) {
    return Change.newBuilder().setEntity(change.getEntity()).setId(change.getId()).setOwner(change.getOwner())
        .setSerial(change.getSerial()).setEpoch(change.getEpoch()).setOperation(Operation.WITHDRAW)
        .setEphemeral(change.getEphemeral()).build();
  }

  private boolean allowedBefore(String peer, Change previous) {
    if (previous.getEphemeral()) {
      Class<?> javaType = ephemeralTypes.apply(previous.getEntity());
      return !engine.send(peer, null, new EphemeralRef(javaType, previous, ephemeralValues)).isDeny();
    }
    EntangledType type = model.byName(previous.getEntity());
    if (type == null) {
      return false; // undecodable here: undecided, so the peer is told nothing
    }
    Object id;
    try {
      id = type.idCodec().decode(previous.getId(), type.name() + " id");
    } catch (DecodeException e) {
      return false;
    }
    String owner = previous.getHandoverTo().isEmpty() ? previous.getOwner() : previous.getHandoverTo();
    return !engine.send(peer, type, new StateRef(type, id, owner, previous)).isDeny();
  }

  /**
   * An object as it was in a given state (not as the database holds it now): its entity is
   * decoded from the state's wire form, detached, on demand.
   */
  private final class StateRef extends EntityRef {
    private final Change state;

    StateRef(EntangledType type, Object id, String owner, Change state) {
      super(type, id, owner, false);
      this.state = state;
    }

    @Override
    public Object entity() {
      try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
        var implementor = (SharedSessionContractImplementor) session;
        var persister = type.persister();
        Object target = persister.instantiate(id, implementor);
        Object[] values = type.decode(state.getAttributesList(), persister.getValues(target),
            PropertyCodec.ReferenceLoader.of(implementor,
                (referenced, referencedId) -> session.get(referenced.persister().getEntityName(), referencedId)));
        persister.setValues(target, values);
        return target;
      } catch (DecodeException e) {
        throw new IllegalStateException("the earlier state of %s cannot be decoded here: %s"
            .formatted(type.key(String.valueOf(id)), e.getMessage()), e);
      }
    }
  }

  /**
   * A change of an entity type this node does not have, relayed raw (a rolling upgrade). The
   * policies see its type name, id (as text), owner and whether it is a deletion, with
   * {@link ObjectRef#entityType()} null; a rule that reads {@link ObjectRef#entity()} cannot be
   * decided here, so the change is <em>held</em> (not sent, counted as a send denial) rather than
   * risk sending a peer what the rule would deny. A held change keeps the peer's position of its
   * owner below it ({@link RawHolds}), so the peer gets it once this node can decide: after the
   * upgrade that brings the type, on the peer's next catch-up.
   */
  private String sendUndecoded(String peer, Change change) {
    String key = RawChanges.key(change);
    if (key == null) {
      return "an id this node cannot read";
    }
    String owner = change.getHandoverTo().isEmpty() ? change.getOwner() : change.getHandoverTo();
    Decision decision;
    try {
      decision = engine.send(peer, null, new UndecodedRef(change, owner));
    } catch (UndecodedEntity e) {
      String reason = "held: a send policy reads the object, and this node cannot decode entity type '%s' yet"
          .formatted(change.getEntity());
      holds.hold(peer, key, change.getOwner(), change.getSerial());
      engine.denied(peer, Direction.SEND, Check.SEND, "the undecoded change of " + key, Decision.deny(reason));
      return reason;
    }
    holds.release(peer, key);
    if (decision.isDeny()) {
      engine.denied(peer, Direction.SEND, Check.SEND, "the undecoded change of " + key, decision);
      return decision.reason();
    }
    return null;
  }

  /**
   * The lowest serial of an owner's raw change held from the peer (see {@link #sendUndecoded}),
   * or {@code Long.MAX_VALUE}: the peer's position of that owner stays below it.
   */
  public long lowestHeld(String peer, String owner) {
    return holds.lowest(peer, owner);
  }

  /** An object of a type this node cannot decode, as a send policy sees it. */
  private static final class UndecodedRef implements ObjectRef {
    private final Change change;
    private final String owner;

    UndecodedRef(Change change, String owner) {
      this.change = change;
      this.owner = owner;
    }

    @Override
    public Class<?> entityType() {
      return null;
    }

    @Override
    public String entityName() {
      return change.getEntity();
    }

    @Override
    public Object id() {
      return RawChanges.idText(change);
    }

    @Override
    public String owner() {
      return owner;
    }

    @Override
    public boolean deleted() {
      return change.getOperation() == Operation.DELETE;
    }

    @Override
    public Object entity() {
      throw new UndecodedEntity();
    }
  }

  /** A policy asked for an object this node cannot decode: the decision is held. */
  private static final class UndecodedEntity extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UndecodedEntity() {
      super("this node cannot decode the object (its entity type is not deployed here yet)", null, false, false);
    }
  }

  /** Whether a transition may go to the peer. */
  public String sendDenied(String peer, TransitionUpdate update) {
    if (engine.isEmpty() || peer == null) {
      return null;
    }
    EntangledType type = model.byName(update.getEntity());
    return type == null ? null : send(peer, type, update.getId(), update.getOwner(), false, "the transition of");
  }

  /**
   * Whether a browser may learn who started a transition: the send policies would let it have the
   * transition's object if the origin owned it. Not counted (nor logged) as a denial: nothing is
   * withheld, only a name.
   */
  public boolean originShown(String peer, TransitionUpdate update) {
    if (engine.isEmpty() || peer == null) {
      return true;
    }
    EntangledType type = model.byName(update.getEntity());
    if (type == null) {
      return false;
    }
    try {
      Object id = type.idCodec().decode(update.getId(), type.name() + " id");
      return !engine.send(peer, type, new LazyRef(type, id, update.getOrigin(), false)).isDeny();
    } catch (DecodeException | RuntimeException e) {
      return false; // undecided: the name stays hidden
    }
  }

  /**
   * Whether the send policies would let the peer have objects of {@code owner}, asked of an object
   * of each entity type without an id or state (a policy that needs them, or throws, counts as
   * no for that type): the peer may then hear the owner's name, positions and routes (issue 17).
   * Not counted (nor logged) as a denial. True without policies.
   */
  public boolean ownerShown(String peer, String owner) {
    if (engine.isEmpty()) {
      return true;
    }
    for (EntangledType type : model.types()) {
      try {
        if (!engine.send(peer, type, new LazyRef(type, null, owner, false)).isDeny()) {
          return true;
        }
      } catch (RuntimeException e) {
        // undecided without the object: this type does not show the owner
      }
    }
    return false;
  }

  /**
   * Whether the send policies let the peer hold an object (for what operators are told about the
   * peer: issue 17). Not counted (nor logged) as a denial: nothing is withheld. A policy that
   * throws counts as no.
   */
  public boolean mayHold(String peer, EntangledType type, Object id, String owner, boolean deleted) {
    if (engine.isEmpty()) {
      return true;
    }
    try {
      return !engine.send(peer, type, new LazyRef(type, id, owner, deleted)).isDeny();
    } catch (RuntimeException e) {
      return false;
    }
  }

  private String send(String peer, EntangledType type, Value idValue, String owner, boolean deleted, String what) {
    Object id;
    try {
      id = type.idCodec().decode(idValue, type.name() + " id");
    } catch (DecodeException e) {
      return null;
    }
    return decide(peer, type, new LazyRef(type, id, owner, deleted), what);
  }

  private String decide(String peer, EntangledType type, EntityRef ref, String what) {
    Decision decision = engine.send(peer, type, ref);
    if (decision.isDeny()) {
      engine.denied(peer, Direction.SEND, Check.SEND, what + " " + type.key(String.valueOf(ref.id)), decision);
      return decision.reason();
    }
    return null;
  }

  /** An object whose entity is read only when a policy asks for it. */
  private final class LazyRef extends EntityRef {
    LazyRef(EntangledType type, Object id, String owner, boolean deleted) {
      super(type, id, owner, deleted);
    }

    @Override
    public Object entity() {
      try (var permit = ConnectionBudget.of(factory).enter(); var session = factory.openStatelessSession()) {
        return session.get(type.persister().getEntityName(), id);
      }
    }
  }

  /** An entity object a send decision is about: type, id, owner, deletion; how its entity is read is the subclass's. */
  private abstract static class EntityRef implements ObjectRef {
    final EntangledType type;
    final Object id;
    private final String owner;
    private final boolean deleted;

    EntityRef(EntangledType type, Object id, String owner, boolean deleted) {
      this.type = type;
      this.id = id;
      this.owner = owner;
      this.deleted = deleted;
    }

    @Override
    public Class<?> entityType() {
      return type.persister().getMappedClass();
    }

    @Override
    public String entityName() {
      return type.name();
    }

    @Override
    public Object id() {
      return id;
    }

    @Override
    public String owner() {
      return owner;
    }

    @Override
    public boolean deleted() {
      return deleted;
    }
  }

  /** An ephemeral object a send decision is about; its "entity" is the record itself, decoded on demand. */
  private static final class EphemeralRef implements ObjectRef {
    private final Class<?> type;
    private final Change change;
    private final Function<Change, Object> decoder;

    EphemeralRef(Class<?> type, Change change, Function<Change, Object> decoder) {
      this.type = type;
      this.change = change;
      this.decoder = decoder;
    }

    @Override
    public Class<?> entityType() {
      return type;
    }

    @Override
    public String entityName() {
      return change.getEntity();
    }

    @Override
    public Object id() {
      return change.getId().getText();
    }

    @Override
    public String owner() {
      return change.getOwner();
    }

    @Override
    public boolean deleted() {
      return change.getOperation() == Operation.DELETE;
    }

    @Override
    public Object entity() {
      return change.getOperation() == Operation.DELETE ? null : decoder.apply(change);
    }
  }

  /** The message stage for an ephemeral object from a peer. */
  public String ephemeralDenied(String peer, Class<?> javaType, Change change) {
    if (engine.isEmpty()) {
      return null;
    }
    return message(peer, null, ephemeralMessage(javaType, change));
  }

  /** The object stage for an ephemeral object from a peer: the record received, next to the one held. */
  public String ephemeralObjectDenied(String peer, Class<?> javaType, Change change, Object incoming, Object stored) {
    return objectDenied(peer, null, ephemeralMessage(javaType, change), incoming, stored);
  }

  private static IncomingMessage ephemeralMessage(Class<?> javaType, Change change) {
    return new IncomingMessage(
        change.getOperation() != Operation.UPSERT ? IncomingMessage.Kind.DELETE : IncomingMessage.Kind.UPSERT,
        change.getEntity(), javaType, change.getId().getText(), change.getOwner(), change.getOwner(),
        names(change.getAttributesList()));
  }

  // ---- receive -------------------------------------------------------------------------------

  public String changeDenied(String peer, EntangledType type, Change change) {
    if (engine.isEmpty()) {
      return null;
    }
    return message(peer, type, new IncomingMessage(
        change.getOperation() != Operation.UPSERT ? IncomingMessage.Kind.DELETE : IncomingMessage.Kind.UPSERT,
        change.getEntity(), javaType(type), Values.shortText(change.getId()), change.getOwner(), change.getOwner(),
        names(change.getAttributesList())));
  }

  public String requestDenied(String peer, UpdateRequest request) {
    if (engine.isEmpty()) {
      return null;
    }
    EntangledType type = model.byName(request.getEntity());
    IncomingMessage.Kind kind = switch (request.getKind()) {
      case CREATE -> IncomingMessage.Kind.CREATE_REQUEST;
      case REMOVE -> IncomingMessage.Kind.REMOVE_REQUEST;
      default -> IncomingMessage.Kind.UPDATE_REQUEST;
    };
    return message(peer, type, new IncomingMessage(kind, request.getEntity(), javaType(type),
        Values.shortText(request.getId()), request.getOwner(), request.getOrigin(), names(request.getAttributesList()),
        request.getViaList()));
  }

  public String transitionDenied(String peer, TransitionUpdate update) {
    if (engine.isEmpty()) {
      return null;
    }
    EntangledType type = model.byName(update.getEntity());
    return message(peer, type, new IncomingMessage(IncomingMessage.Kind.TRANSITION, update.getEntity(), javaType(type),
        Values.shortText(update.getId()), update.getOwner(), update.getOrigin(), names(update.getAttributesList())));
  }

  private String message(String peer, EntangledType type, IncomingMessage message) {
    Decision decision = engine.receiveMessage(peer, type, message);
    if (decision.isDeny()) {
      engine.denied(peer, Direction.RECEIVE, Check.RECEIVE_MESSAGE, describe(message), decision);
      return decision.reason();
    }
    return null;
  }

  public boolean objectStage() {
    return engine.hasObjectStage();
  }

  public String objectDenied(String peer, EntangledType type, IncomingMessage message, Object incoming, Object stored) {
    if (engine.isEmpty() || peer == null) {
      return null;
    }
    Decision decision = engine.receiveObject(peer, type, new IncomingObject(message, incoming, stored));
    if (decision.isDeny()) {
      engine.denied(peer, Direction.RECEIVE, Check.RECEIVE_OBJECT, describe(message), decision);
      return decision.reason();
    }
    return null;
  }

  /** The message-stage view of a change, for the object stage. */
  public IncomingMessage messageOf(EntangledType type, Change change) {
    return new IncomingMessage(
        change.getOperation() != Operation.UPSERT ? IncomingMessage.Kind.DELETE : IncomingMessage.Kind.UPSERT,
        change.getEntity(), javaType(type), Values.shortText(change.getId()), change.getOwner(), change.getOwner(),
        names(change.getAttributesList()));
  }

  /** The message-stage view of a request, for the object stage. */
  public IncomingMessage messageOf(EntangledType type, UpdateRequest request) {
    IncomingMessage.Kind kind = switch (request.getKind()) {
      case CREATE -> IncomingMessage.Kind.CREATE_REQUEST;
      case REMOVE -> IncomingMessage.Kind.REMOVE_REQUEST;
      default -> IncomingMessage.Kind.UPDATE_REQUEST;
    };
    return new IncomingMessage(kind, request.getEntity(), javaType(type), Values.shortText(request.getId()),
        request.getOwner(), request.getOrigin(), names(request.getAttributesList()), request.getViaList());
  }

  private static String describe(IncomingMessage message) {
    String kind = switch (message.kind()) {
      case UPSERT, DELETE -> "a change of";
      case UPDATE_REQUEST, CREATE_REQUEST, REMOVE_REQUEST -> "an update request for";
      case TRANSITION -> "a transition of";
    };
    return kind + " " + message.entityName() + "#" + message.idText();
  }

  private static Class<?> javaType(EntangledType type) {
    return type == null ? null : type.persister().getMappedClass();
  }

  private static Set<String> names(List<Attribute> attributes) {
    Set<String> names = new LinkedHashSet<>();
    for (Attribute attribute : attributes) {
      names.add(attribute.getName());
    }
    return names;
  }
}
