/**
 * Optional persistence of what a client holds (objects and positions) in IndexedDB, so a reload
 * shows the last known state at once and catches up from its positions. Browser only: where there
 * is no `indexedDB` (Node), every method does nothing.
 *
 * Objects and positions are written together in one IndexedDB transaction after each batch the
 * client applied, so the stored positions never claim more than the stored objects hold.
 */
import type { Item } from './store.js';

/** A snapshot to restore. */
export interface Snapshot {
  items: Item<any>[];
  positions: Map<string, bigint>;
}

export interface Persistence {
  load(): Promise<Snapshot | undefined>;
  /** Writes changed items, deletions (by entity and key) and the positions, in one transaction. */
  save(changed: Map<string, Item<any> | undefined>, positions: Map<string, bigint>): Promise<void>;
  close(): void;
}

const noop: Persistence = {
  load: async () => undefined,
  save: async () => undefined,
  close: () => undefined,
};

/** IndexedDB under `name` when available, otherwise a no-op. */
export function openPersistence(name: string | undefined): Persistence {
  const idb: IDBFactory | undefined = (globalThis as any).indexedDB;
  if (!name || !idb) {
    return noop;
  }
  const opened = new Promise<IDBDatabase>((resolve, reject) => {
    const request = idb.open(name, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore('items');
      request.result.createObjectStore('positions');
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const done = (tx: IDBTransaction) =>
    new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  return {
    async load() {
      const db = await opened;
      const tx = db.transaction(['items', 'positions'], 'readonly');
      const items = tx.objectStore('items').getAll();
      const owners = tx.objectStore('positions').getAllKeys();
      const serials = tx.objectStore('positions').getAll();
      await done(tx);
      const positions = new Map<string, bigint>();
      (owners.result as string[]).forEach((owner, i) => positions.set(owner, serials.result[i] as bigint));
      return { items: items.result as Item<any>[], positions };
    },
    async save(changed, positions) {
      const db = await opened;
      const tx = db.transaction(['items', 'positions'], 'readwrite');
      const items = tx.objectStore('items');
      for (const [key, item] of changed) {
        if (item) {
          items.put({ ...item, provisional: undefined }, key);
        } else {
          items.delete(key);
        }
      }
      const store = tx.objectStore('positions');
      for (const [owner, serial] of positions) {
        store.put(serial, owner);
      }
      await done(tx);
    },
    close() {
      opened.then((db) => db.close(), () => undefined);
    },
  };
}
