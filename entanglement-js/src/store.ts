/**
 * What a client holds: one {@link ObjectStore} per entity (the objects the node's policies let it
 * see, live) and one {@link EphemeralStore} per ephemeral type. Stores are filled by the client
 * from the node's messages; the application reads them and listens to their events.
 */
import { Emitter } from './emitter.js';
import { type Plain, type PlainObject, idKey } from './values.js';

/** One replicated object as the client holds it. Immutable: a change makes a new Item. */
export interface Item<T = PlainObject> {
  readonly entity: string;
  readonly id: Plain;
  /** The node that owns the object and decided this state. */
  readonly owner: string;
  /** The owner's serial for this state. */
  readonly serial: bigint;
  /** The ownership epoch. */
  readonly epoch: bigint;
  /** The replicated attributes. */
  readonly data: T;
  /** A transition of the object in progress elsewhere (someone is dragging it): its provisional values. */
  readonly provisional?: Provisional<T>;
}

/** Provisional state of an object during someone's transition; never written anywhere. */
export interface Provisional<T = PlainObject> {
  /** The node or browser that started the transition. */
  readonly origin: string;
  readonly transitionId: bigint;
  readonly sequence: number;
  /** The provisional values of the attributes the transition changes. */
  readonly attributes: Partial<T>;
}

/** The events of an object store. */
export interface ObjectEvents<T> {
  /** An object arrived (new to this client), or was restored from IndexedDB at the start (the `persist` option). */
  added: [item: Item<T>];
  /** A newer state of an object arrived. */
  updated: [item: Item<T>, previous: Item<T>];
  /** The owner deleted the object. */
  removed: [previous: Item<T>];
  /** The object is no longer shared with this client (a policy's decision changed, or the owner was removed). */
  withdrawn: [previous: Item<T>];
  /** Someone's transition of the object started, moved or ended (undefined: ended, committed or cancelled). */
  provisional: [item: Item<T>, provisional: Provisional<T> | undefined];
}

/** The live objects of one entity. */
export class ObjectStore<T = PlainObject> {
  private readonly items = new Map<string, Item<T>>();
  private readonly events: Emitter<ObjectEvents<T>>;

  /** @internal */
  constructor(readonly entity: string, onListenerError: (error: unknown) => void) {
    this.events = new Emitter(onListenerError);
  }

  /** The object with this id, or undefined. */
  get(id: Plain): Item<T> | undefined {
    return this.items.get(idKey(id));
  }

  /** Every object held, in no particular order. */
  all(): Item<T>[] {
    return [...this.items.values()];
  }

  /** The objects whose data matches `predicate`. */
  query(predicate: (data: T, item: Item<T>) => boolean): Item<T>[] {
    return this.all().filter((item) => predicate(item.data, item));
  }

  get size(): number {
    return this.items.size;
  }

  /** Listens to an event; returns the function that stops listening. */
  on<K extends keyof ObjectEvents<T>>(event: K, listener: (...args: ObjectEvents<T>[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  // ---- used by the client ----------------------------------------------------------------------

  /** @internal Applies an owner's state; false when the client holds this state or a newer one. */
  upsert(item: Item<T>): boolean {
    const key = idKey(item.id);
    const previous = this.items.get(key);
    if (previous && older(item, previous)) {
      return false;
    }
    if (previous && !newer(item, previous) && sameData(item.data, previous.data)) {
      return false; // the same state again (a full synchronization)
    }
    // a newer state of the owner ends any transition based on an older one
    const next: Item<T> = previous?.provisional && newer(item, previous) ? item : { ...item, provisional: previous?.provisional };
    this.items.set(key, next);
    if (previous) {
      this.events.emit('updated', next, previous);
      if (previous.provisional && !next.provisional) {
        this.events.emit('provisional', next, undefined);
      }
    } else {
      this.events.emit('added', next);
    }
    return true;
  }

  /** @internal The owner deleted the object (at this serial); false when the client holds a newer state or nothing. */
  remove(id: Plain, epoch: bigint, serial: bigint, withdrawn = false): boolean {
    const key = idKey(id);
    const previous = this.items.get(key);
    if (!previous || (epoch < previous.epoch || (epoch === previous.epoch && serial < previous.serial))) {
      return false;
    }
    this.items.delete(key);
    this.events.emit(withdrawn ? 'withdrawn' : 'removed', previous);
    return true;
  }

  /** @internal Removes an object whatever its serial (a sweep, an owner's removal). */
  withdraw(key: string): void {
    const previous = this.items.get(key);
    if (previous) {
      this.items.delete(key);
      this.events.emit('withdrawn', previous);
    }
  }

  /** @internal The keys of the objects of `owner`. */
  keysOf(owner: string): string[] {
    return [...this.items.entries()].filter(([, item]) => item.owner === owner).map(([key]) => key);
  }

  /** @internal Shows (or, with undefined, ends) someone's transition of an object the client holds. */
  provisional(id: Plain, provisional: Provisional<T> | undefined): void {
    const key = idKey(id);
    const item = this.items.get(key);
    if (!item) {
      return;
    }
    const next: Item<T> = { ...item, provisional };
    this.items.set(key, next);
    this.events.emit('provisional', next, provisional);
  }

  /** @internal Restores an object kept in IndexedDB at the start, as an 'added' event; a state already held wins. */
  restore(item: Item<T>): void {
    const key = idKey(item.id);
    if (!this.items.has(key)) {
      this.items.set(key, item);
      this.events.emit('added', item);
    }
  }
}

function older(a: Item<unknown>, b: Item<unknown>): boolean {
  return a.epoch < b.epoch || (a.epoch === b.epoch && a.serial < b.serial);
}

function newer(a: Item<unknown>, b: Item<unknown>): boolean {
  return older(b, a);
}

function sameData(a: unknown, b: unknown): boolean {
  return stable(a) === stable(b);
}

function stable(value: unknown): string {
  return JSON.stringify(value, (_, v) =>
    typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Array.from(v) : v);
}

/** The events of an ephemeral store. */
export interface EphemeralEvents<T> {
  added: [id: string, value: T, owner: string];
  updated: [id: string, value: T, owner: string];
  /** Removed by its owner, its owner went away, or its time to live ended. */
  removed: [id: string, owner: string];
}

/** One ephemeral object as the client holds it. */
interface EphemeralEntry<T> {
  value: T;
  owner: string;
  epoch: bigint;
  serial: bigint;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The ephemeral objects of one type (presence, cursors...): kept in memory only, by text id. The
 * client's own are put with {@link put} (they are owned by this browser and go away with its
 * connection); others arrive from the node.
 */
export class EphemeralStore<T = PlainObject> {
  private readonly entries = new Map<string, EphemeralEntry<T>>();
  private readonly events: Emitter<EphemeralEvents<T>>;

  /** @internal */
  constructor(
    readonly type: string,
    onListenerError: (error: unknown) => void,
    private readonly send: (id: string, value: T | undefined) => Promise<void>,
  ) {
    this.events = new Emitter(onListenerError);
  }

  get(id: string): T | undefined {
    return this.entries.get(id)?.value;
  }

  /** Every object known, by id. */
  all(): Map<string, T> {
    return new Map([...this.entries].map(([id, entry]) => [id, entry.value]));
  }

  ownerOf(id: string): string | undefined {
    return this.entries.get(id)?.owner;
  }

  /**
   * Puts this client's object: sent now when connected, or when the connection is back (and again
   * after every reconnect, as the node forgets a browser's ephemeral objects when it goes). With a
   * time to live, put it again before it ends. Resolves when the node accepted it.
   */
  put(id: string, value: T): Promise<void> {
    return this.send(id, value);
  }

  /** Removes this client's object. */
  remove(id: string): Promise<void> {
    return this.send(id, undefined);
  }

  on<K extends keyof EphemeralEvents<T>>(event: K, listener: (...args: EphemeralEvents<T>[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** @internal A state from the node (or this client's own put, shown locally). */
  received(id: string, value: T, owner: string, epoch: bigint, serial: bigint, ttlMs: number): void {
    const previous = this.entries.get(id);
    if (previous && previous.owner === owner && (epoch < previous.epoch || (epoch === previous.epoch && serial < previous.serial))) {
      return;
    }
    if (previous?.timer) {
      clearTimeout(previous.timer);
    }
    const entry: EphemeralEntry<T> = { value, owner, epoch, serial };
    if (ttlMs > 0) {
      entry.timer = setTimeout(() => this.drop(id, entry), ttlMs);
    }
    this.entries.set(id, entry);
    this.events.emit(previous ? 'updated' : 'added', id, value, owner);
  }

  /** @internal Removed (by its owner, or its way to the owner was lost). */
  removed(id: string, owner?: string): void {
    const entry = this.entries.get(id);
    if (entry && (owner === undefined || entry.owner === owner)) {
      this.drop(id, entry);
    }
  }

  /** @internal Drops every object (the connection ended: the node no longer updates them). */
  clear(): void {
    for (const [id, entry] of [...this.entries]) {
      this.drop(id, entry);
    }
  }

  private drop(id: string, entry: EphemeralEntry<T>): void {
    if (this.entries.get(id) !== entry) {
      return;
    }
    if (entry.timer) {
      clearTimeout(entry.timer);
    }
    this.entries.delete(id);
    this.events.emit('removed', id, entry.owner);
  }
}
