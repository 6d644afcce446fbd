// The live task board (sample-app's page, served by WebDemoNode --page) in real headless
// Chromium: two users side by side, a drag seen before the owner's commit, a refusal's reason,
// presence, another team that sees none of it (in the page's store and on the wire), reconnect and
// catch-up after the node restarts, an offline change, and a reload from IndexedDB.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary } from '@bufbuild/protobuf';
import { wire } from '../dist/index.js';
import { browserMissing, launch } from './support/browser.js';
import { startNode } from './support/node.js';
import { until } from './support/wait.js';

const clientDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'browser');
const skip = browserMissing();
let node;
let browser;
const cards = {};

before(async () => {
  if (skip) {
    return;
  }
  node = await startNode('board', { args: ['--page', '0', '--client', clientDir] });
  browser = await launch();
  cards.plan = await node.command('create red Plan the route');
  cards.radios = await node.command('create red Pack the radios');
  cards.locked = await node.command('create red locked: safety briefing');
  cards.blue = await node.command('create blue Scout the ridge');
  cards.hq = await node.command('create hq Debrief at six');
  await until(async () => {
    for (const id of Object.values(cards)) {
      if ((await node.command(`get hq ${id}`)) === 'none') {
        return false;
      }
    }
    return true;
  }, 'hq to hold every card');
}, { timeout: 240_000 });

after(async () => {
  await browser?.close();
  await node?.stop();
});

/** A tab of its own browser context (own IndexedDB), with every WebSocket frame it receives. */
async function openBoard(token, tab, query = '') {
  const context = await browser.newContext();
  const page = await context.newPage();
  const frames = [];
  page.on('websocket', (socket) => socket.on('framereceived', (frame) => {
    if (typeof frame.payload !== 'string') {
      frames.push({ bytes: new Uint8Array(frame.payload), at: Date.now() });
    }
  }));
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${node.page}?token=${token}&tab=${tab}${query}`);
  return { page, frames, errors, context };
}

const card = (page, id) => page.locator(`[data-testid=card][data-id="${id}"]`);

/** The lane a card shows in (undefined: not shown). */
function laneOf(page, id) {
  return page.evaluate((cardId) => document.querySelector(`[data-testid=card][data-id="${cardId}"]`)
    ?.closest('.lane')?.dataset.lane, id);
}

async function connected(board) {
  await board.page.locator('[data-testid=state]').filter({ hasText: /^connected$/ }).waitFor({ timeout: 60_000 });
}

/** Presses on a card and moves the pointer over another lane, without letting go. */
async function dragOver(page, id, lane) {
  const from = await card(page, id).boundingBox();
  const to = await page.locator(`.lane[data-lane="${lane}"]`).boundingBox();
  await page.mouse.move(from.x + 10, from.y + 10);
  await page.mouse.down();
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 5 });
}

describe('the live board in Chromium', { skip }, () => {
  test('a refused login shows the node\'s reason in the page, and the tab does not retry', async () => {
    const mallory = await openBoard('mallory', 'refused-login');
    await mallory.page.locator('[data-testid=state]').filter({ hasText: /^refused: unknown token$/ }).waitFor({ timeout: 30_000 });
    await mallory.page.locator('[data-testid=messages] li.error').filter({ hasText: 'refused: unknown token' }).waitFor();
    assert.equal(await mallory.page.evaluate(() => window.board.client.state), 'refused');
    const nobody = await openBoard('', 'no-token');
    await nobody.page.locator('[data-testid=state]').filter({ hasText: /^refused: no token: connect with \?token=/ })
      .waitFor({ timeout: 30_000 });
    assert.equal(await mallory.page.locator('[data-testid=card]').count(), 0);
    await mallory.context.close();
    await nobody.context.close();
  });

  test('two users of one team: a change in one tab shows in the other', async () => {
    const alice = await openBoard('alice-secret', 'change');
    const dan = await openBoard('dan-secret', 'change');
    await connected(alice);
    await connected(dan);
    await card(dan.page, cards.radios).waitFor();
    const before = Number((await node.command(`get red ${cards.radios}`)).split('|')[2]);

    await card(alice.page, cards.radios).locator('button.plus').click();
    await card(dan.page, cards.radios).filter({ hasText: `${before + 1} pts` }).waitFor({ timeout: 30_000 });
    assert.equal(Number((await node.command(`get red ${cards.radios}`)).split('|')[2]), before + 1);
    assert.deepEqual([...alice.errors, ...dan.errors], []);
    await alice.context.close();
    await dan.context.close();
  });

  test('a drag shows in the other tab as moving before the owner commits, then lands there', async () => {
    const alice = await openBoard('alice-secret', 'drag');
    const dan = await openBoard('dan-secret', 'drag');
    await connected(alice);
    await connected(dan);
    await card(dan.page, cards.plan).waitFor();
    const lane = await laneOf(alice.page, cards.plan);
    const target = lane === 'doing' ? 'done' : 'doing';

    await dragOver(alice.page, cards.plan, target);
    // dan sees it moving, by alice, while the owner still has the old lane
    const moving = card(dan.page, cards.plan);
    await dan.page.locator(`.lane[data-lane="${target}"] [data-id="${cards.plan}"].provisional`).waitFor({ timeout: 30_000 });
    assert.match(await moving.getAttribute('data-moved-by'), /^red\.alice\.drag$/);
    assert.equal((await node.command(`get red ${cards.plan}`)).split('|')[1], lane);

    await alice.page.mouse.up();
    await dan.page.locator(`.lane[data-lane="${target}"] [data-id="${cards.plan}"]:not(.provisional)`).waitFor({ timeout: 30_000 });
    assert.equal((await node.command(`get red ${cards.plan}`)).split('|')[1], target);
    assert.equal(await laneOf(alice.page, cards.plan), target);
    await alice.context.close();
    await dan.context.close();
  });

  test('a change the owner refuses shows its reason, and the card goes back', async () => {
    const alice = await openBoard('alice-secret', 'refused');
    await connected(alice);
    await card(alice.page, cards.locked).waitFor();
    const lane = await laneOf(alice.page, cards.locked);
    const target = lane === 'done' ? 'doing' : 'done';

    await dragOver(alice.page, cards.locked, target);
    await alice.page.mouse.up();
    await alice.page.locator('[data-testid=messages] li.error')
      .filter({ hasText: /card 'locked: safety briefing' is locked: only its owner changes it/ }).waitFor({ timeout: 30_000 });
    await until(async () => (await laneOf(alice.page, cards.locked)) === lane, 'the card back in its lane');
    assert.equal((await node.command(`get red ${cards.locked}`)).split('|')[1], lane);
    await alice.context.close();
  });

  test('the presence list shows who of the team is online; the other team sees none of it', async () => {
    const alice = await openBoard('alice-secret', 'here');
    const dan = await openBoard('dan-secret', 'here');
    const bob = await openBoard('bob-secret', 'here');
    const carol = await openBoard('carol-secret', 'here');
    for (const board of [alice, dan, bob, carol]) {
      await connected(board);
    }
    const online = (board) => board.page.locator('[data-testid=presence] li').allTextContents();
    await until(async () => (await online(dan)).includes('red.alice') && (await online(alice)).includes('red.dan'),
      'alice and dan to see each other online');
    await until(async () => (await online(carol)).includes('red.alice') && (await online(carol)).includes('blue.bob'), 'staff to see both teams');
    assert.ok(!(await online(bob)).some((user) => user.startsWith('red.')), `bob sees ${await online(bob)}`);
    assert.ok(!(await online(alice)).some((user) => user.startsWith('blue.')), `alice sees ${await online(alice)}`);

    // a tab that closes leaves the list
    await dan.context.close();
    await until(async () => !(await online(alice)).includes('red.dan'), 'dan to leave alice\'s list');
    for (const board of [alice, bob, carol]) {
      await board.context.close();
    }
  });

  test('a red tab holds no blue object: not in the page, not in its store, not on the wire', async () => {
    const alice = await openBoard('alice-secret', 'secret');
    await connected(alice);
    await card(alice.page, cards.hq).waitFor();
    await node.command(`set blue ${cards.blue} title Scout the ridge at dawn`);
    await node.command(`set hq ${cards.hq} title Debrief at seven`);
    await card(alice.page, cards.hq).filter({ hasText: 'Debrief at seven' }).waitFor({ timeout: 30_000 });

    const held = await alice.page.evaluate(() => window.board.cards.all().map((item) => ({ owner: item.owner, id: String(item.id) })));
    assert.ok(held.length >= 4);
    assert.ok(held.every((item) => item.owner !== 'blue' && item.id !== cards.blue), JSON.stringify(held));
    assert.equal(await alice.page.getByText('Scout the ridge').count(), 0);

    assert.ok(alice.frames.length > 0, 'frames were recorded');
    const text = new TextDecoder();
    for (const frame of alice.frames) {
      const envelope = fromBinary(wire.EnvelopeSchema, frame.bytes);
      const raw = text.decode(frame.bytes);
      assert.ok(!raw.includes('blue') && !raw.includes(cards.blue) && !raw.includes('Scout'),
        `a frame of ${envelope.body.case} names blue: ${JSON.stringify(envelope, (k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
    }
    await alice.context.close();
  });

  test('after the node restarts, the tab reconnects and receives only what changed', async () => {
    const alice = await openBoard('alice-secret', 'restart');
    await connected(alice);
    await card(alice.page, cards.radios).waitFor();

    await node.command('stop hq');
    await alice.page.locator('[data-testid=state]').filter({ hasText: /^(disconnected|connecting)/ }).waitFor({ timeout: 60_000 });
    await node.command(`set red ${cards.radios} title Pack the radios and batteries`);
    const restartedAt = Date.now();
    await node.command('start hq', 180_000);
    await connected(alice);
    await card(alice.page, cards.radios).filter({ hasText: 'Pack the radios and batteries' }).waitFor({ timeout: 60_000 });

    const changed = alice.frames.filter((f) => f.at >= restartedAt)
      .map((f) => fromBinary(wire.EnvelopeSchema, f.bytes))
      .filter((e) => e.body.case === 'changes')
      .flatMap((e) => e.body.value.changes)
      .filter((c) => !c.ephemeral && c.entity === 'Card');
    assert.deepEqual([...new Set(changed.map((c) => c.id.kind.value))], [cards.radios]);
    await alice.context.close();
  });

  test('a card moved while the node is away reaches its owner after the reconnect', async () => {
    const alice = await openBoard('alice-secret', 'offline');
    await connected(alice);
    await card(alice.page, cards.radios).waitFor();
    const lane = await laneOf(alice.page, cards.radios);
    const target = lane === 'done' ? 'todo' : 'done';

    await node.command('stop hq');
    await alice.page.locator('[data-testid=state]').filter({ hasText: /^(disconnected|connecting)/ }).waitFor({ timeout: 60_000 });
    await dragOver(alice.page, cards.radios, target);
    await alice.page.mouse.up();
    await alice.page.locator(`.lane[data-lane="${target}"] [data-id="${cards.radios}"].pending`).waitFor();
    assert.equal((await node.command(`get red ${cards.radios}`)).split('|')[1], lane);

    await node.command('start hq', 180_000);
    await alice.page.locator(`.lane[data-lane="${target}"] [data-id="${cards.radios}"]:not(.pending)`).waitFor({ timeout: 60_000 });
    assert.equal((await node.command(`get red ${cards.radios}`)).split('|')[1], target);
    await alice.context.close();
  });

  test('a reload shows the last known cards at once from IndexedDB, then catches up', async () => {
    const alice = await openBoard('alice-secret', 'reload');
    await connected(alice);
    await card(alice.page, cards.hq).waitFor();
    await until(() => alice.page.evaluate(() => window.board.client.positions().size > 0), 'positions');

    await node.command('stop hq');
    await alice.page.reload();
    // the node is down: what shows came from IndexedDB
    await card(alice.page, cards.plan).waitFor({ timeout: 10_000 });
    await card(alice.page, cards.hq).waitFor();
    assert.notEqual(await alice.page.locator('[data-testid=state]').textContent(), 'connected');

    await node.command(`set red ${cards.plan} title Plan the route twice`);
    await node.command('start hq', 180_000);
    await connected(alice);
    await card(alice.page, cards.plan).filter({ hasText: 'Plan the route twice' }).waitFor({ timeout: 60_000 });
    await alice.context.close();
  });
});
