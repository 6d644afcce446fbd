/**
 * The client: one WebSocket to a node's browser endpoint (`entanglement.web.listen`), speaking
 * the same v1 protobuf envelopes as nodes do, one per binary frame. It keeps the objects the
 * node's policies let it see in typed stores, sends changes to their owners as update requests,
 * reconnects on its own with exponential backoff and jitter, and catches up from the positions it
 * holds.
 *
 * Concurrency: JavaScript's one thread; everything here runs on it. Bounds: the offline queue
 * (`maxQueued` requests, queued and in flight together: a request beyond it is refused with
 * QueueFullError, nothing queued is dropped), the node's batches (answered at once, so the node's
 * window of 16 unanswered batches never fills on our side), the settle waiters (one per request,
 * each with a timeout).
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  type Attribute,
  type Change,
  type ChangeBatch,
  ChangeSchema,
  type Envelope,
  EnvelopeSchema,
  Operation,
  OutcomeStatus,
  RejectReason,
  RequestKind,
  type RequestOutcome,
  RequestStatus,
  SyncMarker_Kind,
  type SyncMarker,
  TransitionPhase,
  type TransitionUpdate,
  type Value,
} from './gen/entanglement/v1/replication_pb.js';
import { Emitter } from './emitter.js';
import {
  ConflictError,
  ConnectionRefusedError,
  type EntanglementError,
  NotFoundError,
  NotSentError,
  OutcomeUnknownError,
  OwnerUnreachableError,
  QueueFullError,
  RefusedError,
} from './errors.js';
import { openPersistence, type Persistence } from './persistence.js';
import { EphemeralStore, type Item, ObjectStore, type Provisional } from './store.js';
import { defaultTransport, type Transport, type TransportFactory } from './transport.js';
import {
  type EntitySchema,
  fromAttributes,
  idKey,
  inferIdKind,
  type Kind,
  learn,
  type Plain,
  type PlainObject,
  toAttributes,
  toValue,
} from './values.js';

/** The protocol version this client speaks (replication.proto, version 1). */
export const PROTOCOL_VERSION = 1;

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The token the node's browser identity checks; sent as the `token` query parameter (browsers cannot set headers on a WebSocket). */
  token?: string;
  /** Names this tab (the `tab` query parameter), for identities that give each tab its own peer name. */
  tab?: string;
  /**
   * This client's peer name as the node's identity gives it (e.g. `red.alice.t1`). Optional: the
   * node's Hello tells the client its name ({@link Client.peerName}), which its ephemeral objects
   * take. When given, the client's Hello names it (the node ends the connection if it disagrees).
   */
  name?: string;
  /** Automatic reconnection: exponential backoff from `initialDelayMs` to `maxDelayMs`, each delay with jitter (50% to 100% of it); false: none. */
  reconnect?: false | { initialDelayMs?: number; maxDelayMs?: number };
  /** A heartbeat is sent after this long without sending anything (the node's default interval). Default 5000. */
  heartbeatIntervalMs?: number;
  /** The connection counts as dead after this long without any message from the node; then it reconnects. Default 15000. */
  heartbeatTimeoutMs?: number;
  /** Most update requests waiting (offline) or in flight at a time. Default 1000. */
  maxQueued?: number;
  /** How long a request may take once sent (across reconnects and retries) before it rejects as outcome unknown or owner unreachable. Default 30000. */
  requestTimeoutMs?: number;
  /** After the owner's DONE, how long the promise waits for the owner's resulting state to reach the client before it resolves anyway. Default 5000. */
  settleTimeoutMs?: number;
  /** The kinds of attributes, by entity, where the client cannot learn them from objects received (see values.ts). */
  schema?: { [entity: string]: EntitySchema };
  /** The owner that {@link Client.create} asks when its options name none. */
  defaultOwner?: string;
  /** IndexedDB database name: objects and positions are kept there and shown at once on the next start. Browser only; ignored in Node. */
  persist?: string;
  /** The socket (default: the browser's WebSocket, or the `ws` package in Node). */
  transport?: TransportFactory;
  /** Random numbers in [0, 1) for the jitter (tests). */
  random?: () => number;
}

/** The connection's state. */
export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'refused' | 'closed';

/** Details of a state change. */
export interface StateDetail {
  /** The WebSocket close code (disconnected, refused). */
  code?: number;
  /** Why (the node's close reason, or the refusal's reason). */
  reason?: string;
  /** HTTP status of a refused upgrade. */
  status?: number;
  /** When the next attempt is made (disconnected). */
  retryInMs?: number;
  /** The node's name (connected). */
  node?: string;
}

export interface ClientEvents {
  state: [state: ConnectionState, detail: StateDetail];
  /** A listener threw, or the node sent something this client could not read. */
  error: [error: unknown];
}

/** What an update, create or delete resolves with. */
export interface RequestResult<T = PlainObject> {
  /** The owner's serial of the resulting state. */
  serial: bigint;
  /** The object as the client holds it once the owner's state arrived (undefined after a delete, or if it did not arrive within settleTimeoutMs, or is not shared with this client). */
  item: Item<T> | undefined;
}

export interface RequestOptions {
  /** The owner to ask (default: the owner of the object as held). */
  owner?: string;
  /** The @Version value the change was made from: the owner answers CONFLICT if its object has moved on. */
  expectedVersion?: Plain;
}

export interface CreateOptions {
  /** The id (default: a new random UUID). */
  id?: Plain;
  /** The owner to ask to create it (default: the defaultOwner option). */
  owner?: string;
}

interface Pending {
  key: string;
  kind: RequestKind;
  entity: string;
  id: Plain;
  idValue: Value;
  owner: string;
  attributes: Attribute[];
  expectedVersion?: Value;
  requestId?: bigint;
  everSent: boolean;
  lastUnreachable?: string;
  timer?: ReturnType<typeof setTimeout>;
  retry?: ReturnType<typeof setTimeout>;
  retryDelayMs: number;
  resolve(result: RequestResult<any>): void;
  reject(error: EntanglementError): void;
}

interface Settling {
  entity: string;
  key: string;
  owner: string;
  serial: bigint;
  remove: boolean;
  timer: ReturnType<typeof setTimeout>;
  resolve(result: RequestResult<any>): void;
}

interface BatchWaiter {
  resolve(): void;
  reject(error: EntanglementError): void;
}

interface Connection {
  transport: Transport;
  open: boolean;
  helloReceived: boolean;
  dead: boolean;
  lastSent: number;
  lastReceived: number;
  watch?: ReturnType<typeof setInterval>;
  refused?: { status: number; reason: string };
}

/** Opens a client to the node's browser endpoint at `url` (ws:// or wss://); it connects, and reconnects, on its own. */
export function connect(url: string, options: ConnectOptions = {}): Client {
  return new Client(url, options);
}

/** A connection to one node; see {@link connect}. */
export class Client {
  private readonly events = new Emitter<ClientEvents>((error) => this.events.emit('error', error));
  private readonly stores = new Map<string, ObjectStore<any>>();
  private readonly ephemerals = new Map<string, EphemeralStore<any>>();
  /** The time to live of this client's own objects, by ephemeral type. */
  private readonly ephemeralTtl = new Map<string, number>();
  private readonly schemas = new Map<string, EntitySchema>();
  private readonly heldPositions = new Map<string, bigint>();
  private readonly queue: Pending[] = [];
  private readonly inFlight = new Map<bigint, Pending>();
  private readonly settling = new Set<Settling>();
  private readonly batchWaiters = new Map<bigint, BatchWaiter[]>();
  /** This client's own ephemeral objects (type, id) -> value and time to live: put again after every reconnect. */
  private readonly ownEphemeral = new Map<string, { type: string; id: string; value: PlainObject; ttlMs: number }>();
  /** Ephemeral puts made while offline, answered by the batch that sends them on reconnect. */
  private readonly ephemeralWaiting: BatchWaiter[] = [];
  /** Full synchronizations in progress, by owner: the objects received since the start marker. */
  private readonly syncs = new Map<string, Set<string>>();
  private readonly dirty = new Map<string, Item<any> | undefined>();
  private readonly persistence: Persistence;
  private readonly incarnation = BigInt(Date.now());
  private ephemeralSerial = 0n;
  private nextRequestId = 1n;
  private nextBatchId = 1n;
  private nextTransitionId = 1n;
  private connection?: Connection;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private attempt = 0;
  private saving: Promise<void> = Promise.resolve();
  private currentState: ConnectionState = 'connecting';
  private nodeName?: string;
  private givenName?: string;
  private readyResolve!: () => void;
  private readyReject!: (error: unknown) => void;
  /** Resolves when the client is first connected (the node's Hello arrived); rejects if the node refuses it or it is closed first. */
  readonly ready: Promise<void>;

  /** @internal use {@link connect} */
  constructor(private readonly url: string, private readonly options: ConnectOptions) {
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => undefined); // not everyone awaits it
    for (const [entity, schema] of Object.entries(options.schema ?? {})) {
      this.schemas.set(entity, { ...schema });
    }
    this.persistence = openPersistence(options.persist);
    if (options.persist) {
      this.persistence.load().then(
        (snapshot) => {
          for (const item of snapshot?.items ?? []) {
            this.store(item.entity).restore(item);
          }
          for (const [owner, serial] of snapshot?.positions ?? []) {
            this.heldPositions.set(owner, serial);
          }
          this.open();
        },
        (error) => {
          this.events.emit('error', error);
          this.open();
        },
      );
    } else {
      this.open();
    }
  }

  /** The connection's state now. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The node's name, once it said hello. */
  get node(): string | undefined {
    return this.nodeName;
  }

  /**
   * This client's peer name, as the node's identity gave it (the node's Hello says it), or the
   * `name` option before the first Hello; undefined before the first Hello without the option.
   */
  get peerName(): string | undefined {
    return this.givenName ?? this.options.name;
  }

  /** How far this client holds each owner's objects (what its next Hello names). */
  positions(): Map<string, bigint> {
    return new Map(this.heldPositions);
  }

  /** Requests waiting for a connection or an answer. */
  get pending(): number {
    return this.queue.length + this.inFlight.size;
  }

  on<K extends keyof ClientEvents>(event: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Resolves when the client is connected (at once if it is). */
  whenConnected(): Promise<void> {
    if (this.currentState === 'connected') {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const off = this.on('state', (state, detail) => {
        if (state === 'connected') {
          off();
          resolve();
        } else if (state === 'refused' || state === 'closed') {
          off();
          reject(new ConnectionRefusedError(detail.status ?? detail.code ?? 0, detail.reason ?? state));
        }
      });
    });
  }

  /** The live objects of one entity (by its JPA entity name). */
  objects<T = PlainObject>(entity: string): ObjectStore<T> {
    return this.store<T>(entity);
  }

  /**
   * The ephemeral objects of one type (the record's simple name at the nodes); `ttlMs` is the time
   * to live of the objects this client puts (0: until it goes away).
   */
  ephemeral<T extends PlainObject = PlainObject>(type: string, options: { ttlMs?: number } = {}): EphemeralStore<T> {
    if (options.ttlMs !== undefined) {
      this.ephemeralTtl.set(type, options.ttlMs);
    }
    let store = this.ephemerals.get(type);
    if (!store) {
      store = new EphemeralStore<T>(type, (error) => this.events.emit('error', error),
        (id, value) => this.putEphemeral(type, id, value as PlainObject | undefined, this.ephemeralTtl.get(type) ?? 0));
      this.ephemerals.set(type, store);
    }
    return store as EphemeralStore<T>;
  }

  /** Asks the owner to change some attributes of an object. */
  update<T = PlainObject>(entity: string, id: Plain, attributes: Partial<T> & PlainObject, options: RequestOptions = {}): Promise<RequestResult<T>> {
    const item = this.store(entity).get(id);
    const owner = options.owner ?? item?.owner;
    if (!owner) {
      return Promise.reject(new NotFoundError(`${entity} ${idKey(id)} is not held by this client: name its owner in the options`));
    }
    const schema = this.schema(entity);
    return this.request(RequestKind.UPDATE, entity, id, owner, toAttributes(attributes, schema, entity),
      options.expectedVersion === undefined ? undefined : toValue(options.expectedVersion, schema.version, `${entity}.version`));
  }

  /** Asks an owner to create an object with these attributes. */
  create<T = PlainObject>(entity: string, attributes: Partial<T> & PlainObject, options: CreateOptions = {}): Promise<RequestResult<T>> {
    const owner = options.owner ?? this.options.defaultOwner;
    if (!owner) {
      return Promise.reject(new RefusedError('MALFORMED', `create ${entity}: name the owner to ask (options.owner or the defaultOwner option)`));
    }
    const id = options.id ?? randomUuid();
    return this.request(RequestKind.CREATE, entity, id, owner, toAttributes(attributes, this.schema(entity), entity));
  }

  /** Asks the owner to delete an object. */
  delete(entity: string, id: Plain, options: RequestOptions = {}): Promise<RequestResult<any>> {
    const owner = options.owner ?? this.store(entity).get(id)?.owner;
    if (!owner) {
      return Promise.reject(new NotFoundError(`${entity} ${idKey(id)} is not held by this client: name its owner in the options`));
    }
    return this.request(RequestKind.REMOVE, entity, id, owner, []);
  }

  /**
   * Starts a transition of an object this client holds (a drag): its updates are provisional
   * state others see at once; {@link Transition.commit} asks the owner for the final values,
   * {@link Transition.abort} drops it. Provisional state is not queued offline: it is sent only
   * while connected.
   */
  transition<T = PlainObject>(entity: string, id: Plain): Transition<T> {
    const item = this.store(entity).get(id);
    if (!item) {
      throw new NotFoundError(`${entity} ${idKey(id)} is not held by this client`);
    }
    return new Transition<T>(this, item as Item<any>, this.nextTransitionId++);
  }

  /** Closes the connection for good: queued requests reject as not sent, requests in flight as outcome unknown. */
  close(): void {
    if (this.currentState === 'closed') {
      return;
    }
    clearTimeout(this.reconnectTimer);
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      this.stopWatch(connection);
      connection.dead = true;
      connection.transport.close(1000, 'closed by the client');
    }
    for (const pending of [...this.queue, ...this.inFlight.values()]) {
      this.finish(pending, pending.everSent
        ? new OutcomeUnknownError(`the client was closed while ${describe(pending)} was on its way: the owner may have applied it`)
        : new NotSentError(`the client was closed before ${describe(pending)} was sent`));
    }
    for (const settle of this.settling) {
      clearTimeout(settle.timer);
      settle.resolve({ serial: settle.serial, item: this.store(settle.entity).get(settle.key) });
    }
    this.settling.clear();
    for (const waiter of [...this.ephemeralWaiting, ...[...this.batchWaiters.values()].flat()]) {
      waiter.reject(new NotSentError('the client was closed'));
    }
    this.ephemeralWaiting.length = 0;
    this.batchWaiters.clear();
    for (const store of this.ephemerals.values()) {
      store.clear();
    }
    this.persistence.close();
    this.setState('closed', {});
    this.readyReject(new ConnectionRefusedError(0, 'closed'));
  }

  // ---- connection --------------------------------------------------------------------------------

  private open(): void {
    if (this.currentState === 'closed') {
      return;
    }
    const target = new URL(this.url);
    if (this.options.token !== undefined) {
      target.searchParams.set('token', this.options.token);
    }
    if (this.options.tab !== undefined) {
      target.searchParams.set('tab', this.options.tab);
    }
    this.setState('connecting', {});
    const factory = this.options.transport ?? defaultTransport;
    const connection: Connection = {
      transport: undefined as unknown as Transport,
      open: false,
      helloReceived: false,
      dead: false,
      lastSent: Date.now(),
      lastReceived: Date.now(),
    };
    this.connection = connection;
    connection.transport = factory(target.toString(), {
      open: () => {
        if (connection.dead) {
          return;
        }
        connection.open = true;
        connection.lastReceived = Date.now();
        this.send(connection, {
          case: 'hello',
          value: {
            protocolVersion: PROTOCOL_VERSION,
            nodeName: this.options.name ?? '',
            owners: [...this.heldPositions].map(([owner, serial]) => ({ owner, serial })),
          },
        });
        this.startWatch(connection);
      },
      message: (bytes) => {
        if (!connection.dead) {
          connection.lastReceived = Date.now();
          this.received(connection, bytes);
        }
      },
      refused: (status, reason) => {
        connection.refused = { status, reason };
      },
      close: (code, reason) => {
        if (!connection.dead) {
          this.ended(connection, code, reason);
        }
      },
    });
  }

  private startWatch(connection: Connection): void {
    const interval = this.options.heartbeatIntervalMs ?? 5000;
    const timeout = this.options.heartbeatTimeoutMs ?? 15000;
    connection.watch = setInterval(() => {
      const now = Date.now();
      if (now - connection.lastReceived > timeout) {
        connection.transport.close(4000, 'no message from the node');
        this.ended(connection, 4000, `no message from the node for ${timeout} ms`);
      } else if (connection.helloReceived && now - connection.lastSent >= interval) {
        this.send(connection, { case: 'heartbeat', value: {} });
      }
    }, Math.max(10, Math.min(interval, timeout) / 2));
  }

  private stopWatch(connection: Connection): void {
    clearInterval(connection.watch);
  }

  /** The connection ended (closed by the node, failed, or found dead). */
  private ended(connection: Connection, code: number, reason: string): void {
    connection.dead = true;
    this.stopWatch(connection);
    if (this.connection !== connection) {
      return;
    }
    this.connection = undefined;
    // requests on their way are sent again (same request_key: the owner answers a repeat with its first result)
    const unanswered = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const pending of unanswered) {
      pending.requestId = undefined;
    }
    this.queue.unshift(...unanswered);
    for (const waiters of this.batchWaiters.values()) {
      this.ephemeralWaiting.push(...waiters); // answered by the batch sent on reconnect
    }
    this.batchWaiters.clear();
    this.syncs.clear();
    // others' ephemeral objects and transitions are no longer kept up to date: drop them
    for (const store of this.ephemerals.values()) {
      for (const [id] of store.all()) {
        if (store.ownerOf(id) !== this.peerName) {
          store.removed(id);
        }
      }
    }
    for (const store of this.stores.values()) {
      for (const item of store.all()) {
        if (item.provisional) {
          store.provisional(item.id, undefined);
        }
      }
    }
    const refusal = connection.refused;
    if (refusal && (refusal.status === 401 || refusal.status === 403)) {
      this.refuse(refusal.status, refusal.reason, code);
      return;
    }
    if (code === 1008) { // the node's policy-violation close (e.g. a name in use): a new attempt would not change it
      this.refuse(code, reason, code);
      return;
    }
    if (this.options.reconnect === false) {
      this.setState('disconnected', { code, reason });
      return;
    }
    const initial = this.options.reconnect?.initialDelayMs ?? 250;
    const max = this.options.reconnect?.maxDelayMs ?? 10000;
    const base = Math.min(max, initial * 2 ** Math.min(this.attempt, 30));
    const delay = Math.round(base * (0.5 + 0.5 * (this.options.random ?? Math.random)()));
    this.attempt++;
    this.setState('disconnected', { code, reason, retryInMs: delay });
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  private refuse(status: number, reason: string, code: number): void {
    const error = new ConnectionRefusedError(status, reason);
    this.setState('refused', { status, reason, code });
    this.readyReject(error);
    for (const pending of [...this.queue, ...this.inFlight.values()]) {
      this.finish(pending, pending.everSent
        ? new OutcomeUnknownError(`the node refused the connection while ${describe(pending)} was on its way: ${reason}`)
        : new NotSentError(`the node refused the connection before ${describe(pending)} was sent: ${reason}`));
    }
  }

  private setState(state: ConnectionState, detail: StateDetail): void {
    this.currentState = state;
    this.events.emit('state', state, detail);
  }

  private send(connection: Connection, body: Envelope['body'] | { case: string; value: object }): void {
    connection.lastSent = Date.now();
    connection.transport.send(toBinary(EnvelopeSchema, create(EnvelopeSchema, { body } as any)));
  }

  private received(connection: Connection, bytes: Uint8Array): void {
    let envelope: Envelope;
    try {
      envelope = fromBinary(EnvelopeSchema, bytes);
    } catch (error) {
      this.events.emit('error', new Error(`the node sent a frame that is not an Envelope: ${String(error)}`));
      return;
    }
    const body = envelope.body;
    if (!connection.helloReceived) {
      if (body.case !== 'hello') {
        this.events.emit('error', new Error(`the node's first message is a ${body.case}, not a Hello`));
        return;
      }
      connection.helloReceived = true;
      this.nodeName = body.value.nodeName;
      if (body.value.peerName) {
        this.givenName = body.value.peerName;
      }
      this.attempt = 0;
      this.setState('connected', { node: this.nodeName });
      this.readyResolve();
      this.flush(connection);
      return;
    }
    switch (body.case) {
      case 'changes':
        this.applyBatch(connection, body.value);
        break;
      case 'ack':
        this.acknowledged(body.value.requestId, body.value.outcomes);
        break;
      case 'requestOutcome':
        this.outcome(body.value);
        break;
      case 'syncMarker':
        this.syncMarker(body.value);
        break;
      case 'transition':
        this.transitionReceived(body.value);
        break;
      case 'ownerRemoved':
        this.ownerRemoved(body.value.owner);
        break;
      default:
        break; // heartbeats, routes, kinds this client does not know: nothing to do
    }
  }

  /** Sends what waited for the connection: own ephemeral objects, then queued requests in order. */
  private flush(connection: Connection): void {
    if (this.ownEphemeral.size > 0 || this.ephemeralWaiting.length > 0) {
      const changes = [...this.ownEphemeral.values()].map((own) =>
        this.ephemeralChange(own.type, own.id, own.value, own.ttlMs));
      const waiters = this.ephemeralWaiting.splice(0);
      if (changes.length === 0) {
        waiters.forEach((waiter) => waiter.resolve());
      } else {
        this.sendBatch(connection, changes, waiters);
      }
    }
    for (const pending of this.queue.splice(0)) {
      this.sendRequest(connection, pending);
    }
  }

  // ---- the node's changes ------------------------------------------------------------------------

  private applyBatch(connection: Connection, batch: ChangeBatch): void {
    const outcomes = batch.changes.map((change, index) => ({
      index,
      status: this.applyChange(change) ? OutcomeStatus.APPLIED : OutcomeStatus.ALREADY_CURRENT,
    }));
    for (const position of batch.positions) {
      const held = this.heldPositions.get(position.owner) ?? 0n;
      if (position.serial > held) {
        this.heldPositions.set(position.owner, position.serial);
      }
    }
    this.send(connection, { case: 'ack', value: { requestId: batch.requestId, outcomes } });
    this.save();
  }

  /** Applies one change; false when the client held this state or a newer one. */
  private applyChange(change: Change): boolean {
    if (change.ephemeral) {
      const store = this.ephemeral(change.entity);
      const id = change.id?.kind.case === 'text' ? change.id.kind.value : idKey(fromValueSafe(change.id));
      if (change.operation === Operation.DELETE || change.operation === Operation.WITHDRAW) {
        store.removed(id, change.ephemeralPathLost ? undefined : change.owner);
      } else {
        store.received(id, fromAttributes(change.attributes), change.owner, change.epoch, change.serial, Number(change.ttlMs));
      }
      return true;
    }
    const store = this.store(change.entity);
    const id = fromValueSafe(change.id);
    const key = idKey(id);
    this.syncs.get(change.owner)?.add(`${change.entity}\u0000${key}`);
    const schema = this.schema(change.entity);
    const idKind = change.id?.kind.case;
    if (idKind && idKind !== 'null' && schema.id === undefined) {
      schema.id = idKind === 'enumConstant' ? 'enum' : (idKind as Kind);
    }
    let applied: boolean;
    if (change.operation === Operation.DELETE || change.operation === Operation.WITHDRAW) {
      // WITHDRAW: a change made the object denied to this client; it lives on at its owner
      applied = store.remove(id, change.epoch, change.serial, change.operation === Operation.WITHDRAW);
    } else {
      learn(schema, change.attributes);
      applied = store.upsert({
        entity: change.entity,
        id,
        owner: change.owner,
        serial: change.serial,
        epoch: change.epoch,
        data: fromAttributes(change.attributes),
      });
    }
    if (applied) {
      this.dirty.set(`${change.entity}\u0000${key}`, store.get(id));
      this.settle(change.entity, key);
    }
    return applied;
  }

  private syncMarker(marker: SyncMarker): void {
    if (marker.kind === SyncMarker_Kind.FULL_SYNC_START) {
      this.syncs.set(marker.owner, new Set());
      return;
    }
    if (marker.kind !== SyncMarker_Kind.FULL_SYNC_END) {
      return;
    }
    const received = this.syncs.get(marker.owner);
    this.syncs.delete(marker.owner);
    if (marker.sweep && received) {
      for (const [entity, store] of this.stores) {
        for (const key of store.keysOf(marker.owner)) {
          if (!received.has(`${entity}\u0000${key}`)) {
            store.withdraw(key);
            this.dirty.set(`${entity}\u0000${key}`, undefined);
          }
        }
      }
    }
    this.heldPositions.set(marker.owner, marker.serial);
    this.save();
  }

  private ownerRemoved(owner: string): void {
    for (const [entity, store] of this.stores) {
      for (const key of store.keysOf(owner)) {
        store.withdraw(key);
        this.dirty.set(`${entity}\u0000${key}`, undefined);
      }
    }
    this.heldPositions.delete(owner);
    this.save();
  }

  private transitionReceived(update: TransitionUpdate): void {
    const store = this.store(update.entity);
    const id = fromValueSafe(update.id);
    const item = store.get(id);
    if (!item || item.epoch > update.baseEpoch || (item.epoch === update.baseEpoch && item.serial > update.baseSerial)) {
      return; // not held, or the owner's state moved on: the transition ended or broke already
    }
    const current = item.provisional;
    const same = current && current.origin === update.origin && current.transitionId === update.transitionId;
    if (update.phase === TransitionPhase.CANCELLED) {
      if (same) {
        store.provisional(id, undefined);
      }
      return;
    }
    if (same && current.sequence >= update.sequence) {
      return; // a copy over another path, or out of order
    }
    const provisional: Provisional<any> = {
      origin: update.origin,
      transitionId: update.transitionId,
      sequence: update.sequence,
      attributes: fromAttributes(update.attributes),
    };
    store.provisional(id, provisional);
  }

  private save(): void {
    if (!this.options.persist || this.dirty.size === 0) {
      return;
    }
    const changed = new Map(this.dirty);
    this.dirty.clear();
    const positions = new Map(this.heldPositions);
    this.saving = this.saving.then(() => this.persistence.save(changed, positions))
      .catch((error) => this.events.emit('error', error));
  }

  // ---- requests ----------------------------------------------------------------------------------

  private request(kind: RequestKind, entity: string, id: Plain, owner: string, attributes: Attribute[], expectedVersion?: Value): Promise<RequestResult<any>> {
    if (this.currentState === 'closed' || this.currentState === 'refused') {
      return Promise.reject(new NotSentError(`the client is ${this.currentState}`));
    }
    if (this.pending >= (this.options.maxQueued ?? 1000)) {
      return Promise.reject(new QueueFullError(`${this.pending} requests wait already (maxQueued): ${RequestKind[kind]} ${entity} ${idKey(id)} is refused`));
    }
    const schema = this.schema(entity);
    const idKind = typeof schema.id === 'string' ? schema.id : inferIdKind(id);
    return new Promise((resolve, reject) => {
      const pending: Pending = {
        key: randomUuid(),
        kind,
        entity,
        id,
        idValue: toValue(id, idKind, `${entity} id`),
        owner,
        attributes,
        expectedVersion,
        everSent: false,
        retryDelayMs: 500,
        resolve,
        reject,
      };
      const connection = this.connection;
      if (connection?.helloReceived && !connection.dead) {
        this.sendRequest(connection, pending);
      } else {
        this.queue.push(pending);
      }
    });
  }

  private sendRequest(connection: Connection, pending: Pending): void {
    const requestId = this.nextRequestId++;
    pending.requestId = requestId;
    if (!pending.everSent) {
      pending.everSent = true;
      const timeout = this.options.requestTimeoutMs ?? 30000;
      pending.timer = setTimeout(() => this.finish(pending, pending.lastUnreachable
        ? new OwnerUnreachableError(`${describe(pending)}: the owner stayed unreachable for ${timeout} ms: ${pending.lastUnreachable}`)
        : new OutcomeUnknownError(`${describe(pending)}: no answer within ${timeout} ms; the owner may have applied it`)), timeout);
    }
    this.inFlight.set(requestId, pending);
    this.send(connection, {
      case: 'updateRequest',
      value: {
        requestId,
        origin: '', // the node fills in this browser's name
        kind: pending.kind,
        entity: pending.entity,
        id: pending.idValue,
        owner: pending.owner,
        attributes: pending.attributes,
        expectedVersion: pending.expectedVersion,
        requestKey: pending.key,
      },
    });
  }

  private outcome(outcome: RequestOutcome): void {
    const pending = this.inFlight.get(outcome.requestId);
    if (!pending) {
      return;
    }
    this.inFlight.delete(outcome.requestId);
    pending.requestId = undefined;
    switch (outcome.status) {
      case RequestStatus.DONE:
        this.finish(pending, undefined);
        this.awaitSettled(pending, outcome.serial);
        return;
      case RequestStatus.REFUSED:
        this.finish(pending, new RefusedError(RejectReason[outcome.reason] ?? String(outcome.reason), outcome.message));
        return;
      case RequestStatus.CONFLICT:
        this.finish(pending, new ConflictError(outcome.message));
        return;
      case RequestStatus.NOT_FOUND:
        this.finish(pending, new NotFoundError(outcome.message));
        return;
      case RequestStatus.UNREACHABLE:
      default: {
        // not final: ask again later (same request_key), until the request's time is up
        pending.lastUnreachable = outcome.message;
        const delay = pending.retryDelayMs;
        pending.retryDelayMs = Math.min(pending.retryDelayMs * 2, 5000);
        this.queue.push(pending);
        pending.retry = setTimeout(() => {
          const index = this.queue.indexOf(pending);
          const connection = this.connection;
          if (index >= 0 && connection?.helloReceived && !connection.dead) {
            this.queue.splice(index, 1);
            this.sendRequest(connection, pending);
          }
        }, delay);
      }
    }
  }

  /** Ends a request (error undefined: DONE, resolved once settled). */
  private finish(pending: Pending, error: EntanglementError | undefined): void {
    clearTimeout(pending.timer);
    clearTimeout(pending.retry);
    const index = this.queue.indexOf(pending);
    if (index >= 0) {
      this.queue.splice(index, 1);
    }
    if (pending.requestId !== undefined) {
      this.inFlight.delete(pending.requestId);
    }
    if (error) {
      pending.reject(error);
    }
  }

  /** Resolves a DONE request once the owner's resulting state reached this client (or settleTimeoutMs passed). */
  private awaitSettled(pending: Pending, serial: bigint): void {
    const settle: Settling = {
      entity: pending.entity,
      key: idKey(pending.id),
      owner: pending.owner,
      serial,
      remove: pending.kind === RequestKind.REMOVE,
      timer: undefined as unknown as ReturnType<typeof setTimeout>,
      resolve: pending.resolve,
    };
    if (this.settled(settle)) {
      return;
    }
    settle.timer = setTimeout(() => {
      this.settling.delete(settle);
      settle.resolve({ serial, item: settle.remove ? undefined : this.store(settle.entity).get(settle.key) });
    }, this.options.settleTimeoutMs ?? 5000);
    this.settling.add(settle);
  }

  private settle(entity: string, key: string): void {
    for (const settle of this.settling) {
      if (settle.entity === entity && settle.key === key && this.settled(settle)) {
        clearTimeout(settle.timer);
        this.settling.delete(settle);
      }
    }
  }

  private settled(settle: Settling): boolean {
    const item = this.store(settle.entity).get(settle.key);
    if (settle.remove ? item === undefined || item.serial > settle.serial : item !== undefined && (item.owner !== settle.owner || item.serial >= settle.serial)) {
      settle.resolve({ serial: settle.serial, item: settle.remove ? undefined : item });
      return true;
    }
    return false;
  }

  // ---- ephemeral objects ---------------------------------------------------------------------------

  private putEphemeral(type: string, id: string, value: PlainObject | undefined, ttlMs: number, helloSeen = false): Promise<void> {
    if (this.currentState === 'closed' || this.currentState === 'refused') {
      return Promise.reject(new NotSentError(`the client is ${this.currentState}`));
    }
    const name = this.peerName;
    if (!name) {
      if (!helloSeen) { // the node's Hello says the name: put once it came
        return this.ready.then(() => this.putEphemeral(type, id, value, ttlMs, true));
      }
      return Promise.reject(new RefusedError('NOT_OWNER', `ephemeral ${type} '${id}': a browser owns ephemeral objects `
        + `under its own peer name, and node '${this.nodeName}' did not say it: give it as the 'name' option`));
    }
    const ownKey = `${type}\u0000${id}`;
    const store = this.ephemeral(type);
    if (value === undefined) {
      this.ownEphemeral.delete(ownKey);
      store.removed(id);
    } else {
      this.ownEphemeral.set(ownKey, { type, id, value, ttlMs });
      store.received(id, value, name, this.incarnation, this.ephemeralSerial + 1n, 0);
    }
    const change = this.ephemeralChange(type, id, value, ttlMs);
    return new Promise((resolve, reject) => {
      const connection = this.connection;
      if (connection?.helloReceived && !connection.dead) {
        this.sendBatch(connection, [change], [{ resolve, reject }]);
      } else if (value === undefined) {
        resolve(); // the node dropped it when the connection ended
      } else {
        this.ephemeralWaiting.push({ resolve, reject }); // put on reconnect
      }
    });
  }

  private ephemeralChange(type: string, id: string, value: PlainObject | undefined, ttlMs: number): Change {
    this.ephemeralSerial++;
    return create(ChangeSchema, {
      entity: type,
      id: toValue(id, 'text'),
      owner: this.peerName ?? '',
      serial: this.ephemeralSerial,
      epoch: this.incarnation,
      operation: value === undefined ? Operation.DELETE : Operation.UPSERT,
      attributes: value === undefined ? [] : toAttributes(value, this.schema(type), type),
      ephemeral: true,
      ttlMs: BigInt(ttlMs),
    });
  }

  /** Sends a batch of this client's own changes; every waiter learns the batch's outcome (the first rejection, if any). */
  private sendBatch(connection: Connection, changes: Change[], waiters: BatchWaiter[]): void {
    const requestId = this.nextBatchId++;
    this.batchWaiters.set(requestId, waiters);
    this.send(connection, { case: 'changes', value: { requestId, changes } });
  }

  private acknowledged(requestId: bigint, outcomes: { status: OutcomeStatus; reason: RejectReason; message: string }[]): void {
    const waiters = this.batchWaiters.get(requestId);
    if (!waiters) {
      return;
    }
    this.batchWaiters.delete(requestId);
    const rejected = outcomes.find((outcome) => outcome.status === OutcomeStatus.REJECTED);
    for (const waiter of waiters) {
      if (rejected) {
        waiter.reject(new RefusedError(RejectReason[rejected.reason] ?? String(rejected.reason), rejected.message));
      } else {
        waiter.resolve();
      }
    }
  }

  // ---- transitions (used by Transition) ------------------------------------------------------------

  /** @internal */
  sendTransition(item: Item<any>, transitionId: bigint, sequence: number, phase: TransitionPhase, attributes: PlainObject): boolean {
    const connection = this.connection;
    if (!connection?.helloReceived || connection.dead) {
      return false;
    }
    const schema = this.schema(item.entity);
    this.send(connection, {
      case: 'transition',
      value: {
        origin: '',
        transitionId,
        sequence,
        entity: item.entity,
        id: toValue(item.id, typeof schema.id === 'string' ? schema.id : inferIdKind(item.id)),
        owner: item.owner,
        baseEpoch: item.epoch,
        baseSerial: item.serial,
        phase,
        attributes: toAttributes(attributes, schema, item.entity),
      },
    });
    return true;
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private store<T>(entity: string): ObjectStore<T> {
    let store = this.stores.get(entity);
    if (!store) {
      store = new ObjectStore<T>(entity, (error) => this.events.emit('error', error));
      this.stores.set(entity, store);
    }
    return store as ObjectStore<T>;
  }

  private schema(entity: string): EntitySchema {
    let schema = this.schemas.get(entity);
    if (!schema) {
      schema = {};
      this.schemas.set(entity, schema);
    }
    return schema;
  }
}

/**
 * A transition of one object by this client (see {@link Client.transition}): provisional values
 * that others see at once, ended by {@link commit} (the owner decides the final values as an
 * ordinary update) or {@link abort}.
 */
export class Transition<T = PlainObject> {
  private sequence = 0;
  private values: PlainObject = {};
  private ended = false;

  /** @internal */
  constructor(private readonly client: Client, private readonly item: Item<any>, readonly transitionId: bigint) {}

  /** Shows provisional values to others; returns false when not connected (provisional state is not queued). */
  update(attributes: Partial<T> & PlainObject): boolean {
    if (this.ended) {
      throw new Error('the transition ended');
    }
    this.values = { ...this.values, ...attributes };
    return this.client.sendTransition(this.item, this.transitionId, ++this.sequence, TransitionPhase.PROVISIONAL, this.values);
  }

  /** Asks the owner to commit the provisional values (and `attributes`); the owner's commit ends the transition everywhere. */
  commit(attributes: Partial<T> & PlainObject = {}): Promise<RequestResult<T>> {
    this.ended = true;
    return this.client.update<T>(this.item.entity, this.item.id, { ...this.values, ...attributes } as Partial<T> & PlainObject,
      { owner: this.item.owner });
  }

  /** Drops the provisional values everywhere. */
  abort(): void {
    if (!this.ended) {
      this.ended = true;
      this.client.sendTransition(this.item, this.transitionId, ++this.sequence, TransitionPhase.CANCELLED, {});
    }
  }
}

function fromValueSafe(value: Value | undefined): Plain {
  const kind = value?.kind;
  if (!kind || kind.case === undefined || kind.case === 'null') {
    return null;
  }
  if (kind.case === 'integer') {
    return kind.value >= BigInt(Number.MIN_SAFE_INTEGER) && kind.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(kind.value) : kind.value;
  }
  if (kind.case === 'composite' || kind.case === 'reference') {
    return idKey(JSON.parse(JSON.stringify(kind.value, (_, v) => (typeof v === 'bigint' ? v.toString() : v))));
  }
  return kind.value as Plain;
}

function describe(pending: Pending): string {
  return `the ${RequestKind[pending.kind]} request for ${pending.entity} ${idKey(pending.id)} (owner '${pending.owner}')`;
}

function randomUuid(): string {
  const crypto = (globalThis as any).crypto;
  if (crypto?.randomUUID) {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
