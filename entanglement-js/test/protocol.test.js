// Protocol tests of the client against a real node (sample-app's WebDemoNode: hq serves browsers,
// red and blue dial it; red and blue never see each other's cards; tokens alice-secret (red),
// bob-secret (blue), carol-secret (staff)).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ConflictError,
  ConnectionRefusedError,
  NotFoundError,
  NotSentError,
  QueueFullError,
  RefusedError,
  browserTransport,
  connect,
  wire,
} from '../dist/index.js';
import { startNode } from './support/node.js';
import { reached, until } from './support/wait.js';
import { anyFrameContains, changesIn, envelope, recording } from './support/wire.js';

let node;
const clients = [];
const cards = {};

function client(options) {
  const c = connect(node.url, { heartbeatIntervalMs: 1000, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 }, ...options });
  clients.push(c);
  return c;
}

before(async () => {
  node = await startNode('protocol');
  cards.red = await node.command('create red red plan');
  cards.blue = await node.command('create blue blue secret plan');
  cards.hq = await node.command('create hq hq board');
  cards.locked = await node.command('create red locked red card');
  await until(async () => (await node.command(`get hq ${cards.red}`)) !== 'none'
    && (await node.command(`get hq ${cards.blue}`)) !== 'none'
    && (await node.command(`get hq ${cards.locked}`)) !== 'none', 'hq to hold the cards of red and blue');
}, { timeout: 240_000 });

after(async () => {
  for (const c of clients) {
    c.close();
  }
  await node?.stop();
});

describe('connecting', () => {
  test('a client without a token is refused with 401 and the node\'s reason, an unknown token with 403', async () => {
    const none = client({});
    await assert.rejects(none.ready, (error) => error instanceof ConnectionRefusedError && error.status === 401
      && /no token: connect with \?token=/.test(error.reason));
    assert.equal(none.state, 'refused');

    const unknown = client({ token: 'mallory' });
    await assert.rejects(unknown.ready, (error) => error instanceof ConnectionRefusedError && error.status === 403
      && error.reason === 'unknown token');
    // a refused client does not try again, and refuses requests at once
    await assert.rejects(unknown.update('Card', cards.red, { title: 'x' }, { owner: 'red' }), NotSentError);

    const alice = client({ token: 'alice-secret', tab: 'login' });
    await alice.ready;
    assert.equal(alice.state, 'connected');
    assert.equal(alice.node, 'hq');
  });
});

describe('the browser transport', () => {
  test('a refused upgrade\'s status and reason, hidden by the WebSocket API, come from asking the node over HTTP', { timeout: 60_000 }, async () => {
    // the browser's WebSocket API, played by ws: a refusal is only a close with code 1006 (and an error event)
    const { WebSocket: Ws } = await import('ws');
    class BrowserLikeWebSocket extends Ws {
      constructor(url, protocols) {
        super(url, protocols);
        this.on('error', () => {}); // a browser's socket reports a failed connection as an event, not a throw
      }
    }
    const before = globalThis.WebSocket;
    globalThis.WebSocket = BrowserLikeWebSocket;
    try {
      const none = client({ transport: browserTransport });
      await assert.rejects(none.ready, (error) => error instanceof ConnectionRefusedError && error.status === 401
        && /no token: connect with \?token=/.test(error.reason));
      assert.equal(none.state, 'refused');
      const unknown = client({ token: 'mallory', transport: browserTransport });
      await assert.rejects(unknown.ready, (error) => error instanceof ConnectionRefusedError && error.status === 403
        && error.reason === 'unknown token');
      // an admitted client connects through it as through ws
      const alice = client({ token: 'alice-secret', tab: 'bt', transport: browserTransport });
      await alice.ready;
      assert.equal(alice.peerName, 'red.alice.bt');
      await until(() => alice.objects('Card').get(cards.red), 'the red card');
      alice.close(); // before the WebSocket it would reconnect with goes
    } finally {
      globalThis.WebSocket = before;
    }
  });
});

describe('what a client receives', () => {
  test('a red client holds red and shared cards and nothing of blue, in its store and on the wire', async () => {
    const { frames, transport } = recording();
    const alice = client({ token: 'alice-secret', tab: 'wire', transport });
    const store = alice.objects('Card');
    await alice.ready;
    await until(() => store.get(cards.red) && store.get(cards.hq) && store.get(cards.locked), 'red and hq cards');
    // a blue card made now, and then a red one: by the time the red one arrived the blue one had its chance
    const liveBlue = await node.command('create blue blue live plan');
    await until(async () => (await node.command(`get hq ${liveBlue}`)) !== 'none', 'hq to hold the new blue card');
    const liveRed = await node.command('create red red live plan');
    await until(() => store.get(liveRed), 'the new red card');

    assert.equal(store.get(cards.red).owner, 'red');
    assert.equal(store.get(cards.red).data.title, 'red plan');
    assert.equal(store.get(cards.hq).owner, 'hq');
    assert.equal(store.get(cards.blue), undefined);
    assert.equal(store.get(liveBlue), undefined);
    assert.deepEqual(store.query((card) => card.title.startsWith('blue')), []);
    assert.ok(store.all().every((item) => item.owner !== 'blue'));
    assert.ok(![...alice.positions().keys()].includes('blue'));
    // on the wire: no frame carries a blue id, a blue title, or blue as an owner or position
    const received = frames.filter((f) => f.direction === 'in');
    assert.ok(received.length > 0);
    for (const text of [cards.blue, liveBlue, 'blue secret plan', 'blue live plan']) {
      assert.equal(anyFrameContains(received, text), false, `a frame to the red client carries '${text}'`);
    }
    for (const e of received.map(envelope)) {
      if (e.body.case === 'changes') {
        assert.ok(e.body.value.changes.every((c) => c.owner !== 'blue'));
        assert.ok(e.body.value.positions.every((p) => p.owner !== 'blue'));
      }
      if (e.body.case === 'hello') {
        assert.deepEqual(e.body.value.owners, []);
      }
    }
  });

  test('no frame to a red client names blue or carries a blue id: catch-up, live changes, markers, drags, presence, a guessed id', async () => {
    const { frames, transport } = recording();
    const alice = client({ token: 'alice-secret', tab: 'hidden', transport });
    const store = alice.objects('Card');
    await alice.ready;
    await until(() => store.get(cards.red) && store.get(cards.hq), 'red and hq cards');
    const received = () => frames.filter((f) => f.direction === 'in');
    const drags = () => received().map(envelope).filter((e) => e.body.case === 'transition');
    // a blue tab comes online and drags the shared card; then blue's node drags it
    const bob = client({ token: 'bob-secret', tab: 'hidden', name: 'blue.bob.hidden' });
    await bob.ready;
    await bob.ephemeral('Presence').put('bob-hidden', { user: 'bob', status: 'online' });
    await until(() => bob.objects('Card').get(cards.hq), 'the shared card at the blue tab');
    assert.equal(bob.transition('Card', cards.hq).update({ lane: 'doing' }), true);
    await until(() => drags().length >= 1, 'the blue tab\'s drag at the red client');
    await node.command(`drag blue ${cards.hq} done`);
    await until(() => drags().length >= 2, 'blue\'s drag at the red client');
    // blue changes, then the policies change at hq: every owner again, between markers
    const liveBlue = await node.command('create blue blue hidden plan');
    await node.command(`set blue ${liveBlue} title blue plan, revised`);
    await until(async () => /^blue plan, revised\|/.test(await node.command(`get hq ${liveBlue}`)), 'hq to hold the blue change');
    await node.command('resync hq');
    await until(() => received().map(envelope).some((e) => e.body.case === 'syncMarker' && e.body.value.owner === 'red'
      && e.body.value.kind === wire.SyncMarker_Kind.FULL_SYNC_END), 'the end of the full synchronization of red');
    // the id of blue's card, guessed and asked of hq: answered as for no such card
    const guessed = await alice.update('Card', cards.blue, { title: 'mine' }, { owner: 'hq' }).then(() => 'done', (error) => error);
    const last = await node.command('create red red made last');
    await until(() => store.get(last), 'the red card made last');
    await bob.ephemeral('Presence').remove('bob-hidden'); // later tests count the presences they see
    bob.close();

    for (const text of ['blue', cards.blue, liveBlue]) {
      const carrying = received().filter((f) => anyFrameContains([f], text)).map((f) => envelope(f).body.case);
      assert.deepEqual(carrying, [], `frames to the red client carry '${text}'`);
    }
    assert.equal(store.get(liveBlue), undefined);
    assert.ok(guessed instanceof NotFoundError, String(guessed));
    // what it was told instead: the drags of the shared card, each under a stand-in for who drags
    const origins = drags().map((e) => e.body.value.origin);
    assert.ok(origins.every((origin) => origin.startsWith('~')), origins.join(', '));
    assert.equal(new Set(origins).size, 2);
  });

  test('a blue client holds blue cards and none of red', async () => {
    const bob = client({ token: 'bob-secret', tab: 'b1' });
    const store = bob.objects('Card');
    await bob.ready;
    await until(() => store.get(cards.blue) && store.get(cards.hq), 'blue and hq cards');
    assert.equal(store.get(cards.red), undefined);
    assert.ok(store.all().every((item) => item.owner !== 'red'));
  });
});

describe('requests to the owner', () => {
  test('an update resolves with the owner\'s result; a stale expected version rejects as a conflict', async () => {
    const alice = client({ token: 'alice-secret', tab: 'upd' });
    const store = alice.objects('Card');
    await alice.ready;
    const before = await until(() => store.get(cards.red), 'the red card');
    const result = await alice.update('Card', cards.red, { title: 'renamed by alice', points: 5 });
    assert.ok(result.serial > before.serial);
    assert.equal(result.item.serial, result.serial);
    assert.equal(result.item.data.title, 'renamed by alice');
    assert.equal(result.item.data.points, 5);
    assert.equal(result.item.data.version, before.data.version + 1);
    assert.equal(store.get(cards.red).data.title, 'renamed by alice');
    assert.match(await node.command(`get red ${cards.red}`), /^renamed by alice\|todo\|5\|/);

    await assert.rejects(
      alice.update('Card', cards.red, { title: 'from an old copy' }, { expectedVersion: before.data.version }),
      (error) => error instanceof ConflictError && error.code === 'conflict' && /changed at its owner 'red'/.test(error.message));
    assert.match(await node.command(`get red ${cards.red}`), /^renamed by alice\|/);
  });

  test('a refused update rejects with the typed error and the owner\'s reason', async () => {
    const alice = client({ token: 'alice-secret', tab: 'ref' });
    const store = alice.objects('Card');
    await alice.ready;
    await until(() => store.get(cards.locked), 'the locked card');
    await assert.rejects(alice.update('Card', cards.locked, { title: 'unlocked?' }), (error) => {
      assert.ok(error instanceof RefusedError);
      assert.equal(error.code, 'refused');
      assert.equal(error.reason, 'POLICY');
      assert.match(error.message, /card 'locked red card' is locked: only its owner changes it/);
      return true;
    });
    // blue's card, its id guessed: refused by the rules, with their reason
    await assert.rejects(alice.update('Card', cards.blue, { title: 'taken over' }, { owner: 'blue' }), (error) => {
      assert.ok(error instanceof RefusedError);
      assert.equal(error.reason, 'POLICY');
      assert.match(error.message, /team 'red' may not change objects of team 'blue'/);
      return true;
    });
    assert.match(await node.command(`get blue ${cards.blue}`), /^blue secret plan\|/);
    assert.match(await node.command(`get red ${cards.locked}`), /^locked red card\|/);
  });

  test('create and delete are requests to the owner that resolve once the client holds the result', async () => {
    const alice = client({ token: 'alice-secret', tab: 'crd', defaultOwner: 'red' });
    const store = alice.objects('Card');
    await alice.ready;
    await until(() => store.get(cards.red), 'the red card'); // the kinds of Card's attributes are learned from it
    const created = await alice.create('Card', { title: 'made in the tab', lane: 'doing', points: 2 });
    assert.equal(created.item.owner, 'red');
    assert.equal(created.item.data.title, 'made in the tab');
    assert.equal(store.get(created.item.id).data.lane, 'doing');
    assert.match(await node.command(`get red ${created.item.id}`), /^made in the tab\|doing\|2\|/);

    const removed = [];
    store.on('removed', (item) => removed.push(item.id));
    await alice.delete('Card', created.item.id);
    assert.equal(store.get(created.item.id), undefined);
    assert.deepEqual(removed, [created.item.id]);
    assert.equal(await node.command(`get red ${created.item.id}`), 'none');
  });
});

describe('transitions and ephemeral objects', () => {
  test('another tab sees a transition\'s provisional state, then the owner\'s commit; the other team sees nothing', async () => {
    const dragger = client({ token: 'alice-secret', tab: 'drag' });
    const watcher = client({ token: 'alice-secret', tab: 'watch' });
    const bob = client({ token: 'bob-secret', tab: 'drag' });
    const card = await node.command('create red card to drag');
    await Promise.all([dragger.ready, watcher.ready, bob.ready]);
    await until(() => dragger.objects('Card').get(card) && watcher.objects('Card').get(card), 'both red tabs to hold the card');
    const seen = [];
    watcher.objects('Card').on('provisional', (item, provisional) => seen.push(provisional));
    const bobSaw = [];
    bob.objects('Card').on('provisional', (item) => bobSaw.push(item.id));

    const drag = dragger.transition('Card', card);
    assert.equal(drag.update({ lane: 'doing' }), true);
    const provisional = await until(() => watcher.objects('Card').get(card).provisional, 'the provisional state at the watcher');
    assert.equal(provisional.origin, 'red.alice.drag');
    assert.deepEqual(provisional.attributes, { lane: 'doing' });
    assert.equal(watcher.objects('Card').get(card).data.lane, 'todo'); // nothing committed yet

    const result = await drag.commit();
    assert.equal(result.item.data.lane, 'doing');
    await until(() => watcher.objects('Card').get(card).data.lane === 'doing', 'the commit at the watcher');
    assert.equal(watcher.objects('Card').get(card).provisional, undefined);
    assert.deepEqual(seen.at(-1), undefined);
    assert.equal(bob.objects('Card').get(card), undefined);
    assert.deepEqual(bobSaw, []);
  });

  test('the node tells a client its peer name, which its ephemeral objects take without the name option', async () => {
    const alice = client({ token: 'alice-secret', tab: 'pn' });
    const carol = client({ token: 'carol-secret', tab: 'pn' });
    assert.equal(alice.peerName, undefined);
    // put before the node's Hello: it waits for the name
    const put = alice.ephemeral('Presence').put('alice-pn', { user: 'alice', status: 'online' });
    await alice.ready;
    assert.equal(alice.peerName, 'red.alice.pn');
    await put;
    assert.equal(alice.ephemeral('Presence').ownerOf('alice-pn'), 'red.alice.pn');
    await until(() => carol.ephemeral('Presence').get('alice-pn'), 'carol to see alice online');
    assert.equal(carol.ephemeral('Presence').ownerOf('alice-pn'), 'red.alice.pn');
    // a name given that is not the identity's: the node ends the connection, as before
    const wrong = client({ token: 'alice-secret', tab: 'pn2', name: 'red.alice.other' });
    await assert.rejects(wrong.ready, (error) => error instanceof ConnectionRefusedError && error.status === 1008);
  });

  test('a client\'s ephemeral object reaches staff and its own team, not the other team, and goes when removed', async () => {
    const alice = client({ token: 'alice-secret', tab: 'pres', name: 'red.alice.pres' });
    const carol = client({ token: 'carol-secret', tab: 'pres' });
    const bob = client({ token: 'bob-secret', tab: 'pres' });
    await Promise.all([alice.ready, carol.ready, bob.ready]);
    const bobSaw = [];
    bob.ephemeral('Presence').on('added', (id) => bobSaw.push(id));
    await alice.ephemeral('Presence', { ttlMs: 60_000 }).put('alice', { user: 'alice', status: 'online' });
    const seen = await until(() => carol.ephemeral('Presence').get('alice'), 'carol to see alice online');
    assert.deepEqual(seen, { user: 'alice', status: 'online' });
    assert.equal(carol.ephemeral('Presence').ownerOf('alice'), 'red.alice.pres');

    await alice.ephemeral('Presence').remove('alice');
    await until(() => carol.ephemeral('Presence').get('alice') === undefined, 'carol to see alice go');
    assert.deepEqual(bobSaw, []);
  });
});

describe('reconnecting', () => {
  test('after the node restarts the client reconnects and catches up with only what changed', async () => {
    const { frames, transport } = recording();
    const alice = client({ token: 'alice-secret', tab: 'rec', transport });
    const store = alice.objects('Card');
    await alice.ready;
    const stay = await node.command('create red stays as it is');
    const change = await node.command('create red changes while away');
    await until(() => store.get(stay) && store.get(change), 'the two cards');
    const newest = store.all().filter((item) => item.owner === 'red').reduce((max, item) => (item.serial > max ? item.serial : max), 0n);
    await until(() => (alice.positions().get('red') ?? 0n) >= newest, 'a position of red through its newest card');
    const before = store.all().length;

    const states = [];
    alice.on('state', (state, detail) => states.push({ state, ...detail }));
    await node.command('stop hq');
    await reached(alice, 'disconnected');
    await node.command(`set red ${change} title changed while hq was away`);
    const added = await node.command('create red added while hq was away');
    const reconnectedAt = Date.now();
    await node.command('start hq', 180_000);
    await reached(alice, 'connected');
    await until(() => store.get(added) && store.get(change).data.title === 'changed while hq was away', 'the changes made while away');

    // the reconnect's Hello named what the client held; only what changed since came
    const hellos = frames.filter((f) => f.direction === 'out').map(envelope).filter((e) => e.body.case === 'hello');
    assert.ok(hellos.length >= 2);
    const red = hellos.at(-1).body.value.owners.find((p) => p.owner === 'red');
    assert.ok(red && red.serial >= newest, 'the second Hello names red\'s position');
    const since = changesIn(frames.filter((f) => f.at >= reconnectedAt));
    assert.deepEqual([...new Set(since.map((c) => c.id.kind.value))].sort(), [added, change].sort());
    assert.equal(store.get(stay).data.title, 'stays as it is');
    assert.equal(store.all().length, before + 1);
    assert.ok(states.some((s) => s.state === 'disconnected' && s.retryInMs > 0));
  });

  test('a change made while disconnected is queued and delivered after the reconnect', async () => {
    const alice = client({ token: 'alice-secret', tab: 'off' });
    const store = alice.objects('Card');
    await alice.ready;
    const card = await node.command('create red moved offline');
    await until(() => store.get(card), 'the card');

    await node.command('stop hq');
    await reached(alice, 'disconnected');
    const moved = alice.update('Card', card, { lane: 'done' });
    assert.equal(alice.pending, 1);
    assert.match(await node.command(`get red ${card}`), /\|todo\|/);
    await node.command('start hq', 180_000);
    const result = await moved;
    assert.equal(result.item.data.lane, 'done');
    assert.equal(store.get(card).data.lane, 'done');
    assert.match(await node.command(`get red ${card}`), /^moved offline\|done\|/);
    assert.equal(alice.pending, 0);
  });
});
