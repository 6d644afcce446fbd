// The client against a scripted node (a fake transport, no network): what it answers and what it
// holds for messages a real node sends rarely or only after time passes (sweeps, a silent link).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { connect, wire } from '../dist/index.js';
import { nextState, until } from './support/wait.js';

/** A transport whose node is the test: `deliver(body)` sends the client an envelope; `sent` holds what the client sent. */
function scripted() {
  const sent = [];
  let events;
  const node = {
    sent,
    transport: (url, e) => {
      events = e;
      node.url = url;
      queueMicrotask(() => e.open());
      return { send: (bytes) => sent.push(fromBinary(wire.EnvelopeSchema, bytes)), close: () => undefined };
    },
    deliver(body) {
      events.message(toBinary(wire.EnvelopeSchema, create(wire.EnvelopeSchema, { body })));
    },
  };
  return node;
}

function card(id, serial, title, owner = 'red') {
  return {
    entity: 'Card', id: { kind: { case: 'uuid', value: id } }, owner, serial: BigInt(serial),
    operation: wire.Operation.UPSERT,
    attributes: [{ name: 'title', value: { kind: { case: 'text', value: title } } }],
  };
}

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

test('a full synchronization with a sweep withdraws what the node no longer sends; every batch is acknowledged', async () => {
  const node = scripted();
  const client = connect('ws://node.invalid/entanglement', { token: 't', transport: node.transport, reconnect: false });
  await until(() => node.sent.some((e) => e.body.case === 'hello'), 'the client\'s Hello');
  assert.ok(node.url.includes('token=t'));
  node.deliver({ case: 'hello', value: { protocolVersion: 1, nodeName: 'hq' } });
  await client.ready;
  const withdrawn = [];
  client.objects('Card').on('withdrawn', (item) => withdrawn.push(item.id));

  node.deliver({ case: 'changes', value: { requestId: 1n, changes: [card(A, 1, 'a'), card(B, 2, 'b')], positions: [{ owner: 'red', serial: 2n }] } });
  node.deliver({ case: 'syncMarker', value: { kind: wire.SyncMarker_Kind.FULL_SYNC_START, owner: 'red' } });
  node.deliver({ case: 'changes', value: { requestId: 2n, changes: [card(A, 1, 'a')] } });
  node.deliver({ case: 'syncMarker', value: { kind: wire.SyncMarker_Kind.FULL_SYNC_END, owner: 'red', serial: 5n, sweep: true } });

  assert.deepEqual(withdrawn, [B]);
  assert.deepEqual(client.objects('Card').all().map((item) => item.id), [A]);
  assert.equal(client.positions().get('red'), 5n);
  const acks = node.sent.filter((e) => e.body.case === 'ack').map((e) => e.body.value);
  assert.deepEqual(acks.map((ack) => ack.requestId), [1n, 2n]);
  assert.deepEqual(acks[0].outcomes.map((o) => o.status), [wire.OutcomeStatus.APPLIED, wire.OutcomeStatus.APPLIED]);
  assert.deepEqual(acks[1].outcomes.map((o) => o.status), [wire.OutcomeStatus.ALREADY_CURRENT]);
  client.close();
});

test('a WITHDRAW removes the object as withdrawn, not removed, unless the client holds a newer state', async () => {
  const node = scripted();
  const client = connect('ws://node.invalid/entanglement', { token: 't', transport: node.transport, reconnect: false });
  await until(() => node.sent.some((e) => e.body.case === 'hello'), 'the client\'s Hello');
  node.deliver({ case: 'hello', value: { protocolVersion: 1, nodeName: 'hq' } });
  await client.ready;
  const withdrawn = [];
  const removed = [];
  client.objects('Card').on('withdrawn', (item) => withdrawn.push(item.id));
  client.objects('Card').on('removed', (item) => removed.push(item.id));
  node.deliver({ case: 'changes', value: { requestId: 1n, changes: [card(A, 1, 'a'), card(B, 4, 'b')] } });
  const withdrawal = (id, serial) => ({
    entity: 'Card', id: { kind: { case: 'uuid', value: id } }, owner: 'red', serial: BigInt(serial),
    operation: wire.Operation.WITHDRAW,
  });
  node.deliver({ case: 'changes', value: { requestId: 2n, changes: [withdrawal(A, 2), withdrawal(B, 3)] } });

  assert.deepEqual(withdrawn, [A]);
  assert.deepEqual(removed, []);
  assert.deepEqual(client.objects('Card').all().map((item) => item.id), [B], 'B is held at a newer serial than its withdrawal');
  const ack = node.sent.filter((e) => e.body.case === 'ack').map((e) => e.body.value).find((a) => a.requestId === 2n);
  assert.deepEqual(ack.outcomes.map((o) => o.status), [wire.OutcomeStatus.APPLIED, wire.OutcomeStatus.ALREADY_CURRENT]);
  client.close();
});

test('a quiet client sends heartbeats, and a node that says nothing for heartbeatTimeoutMs counts as gone', async () => {
  const node = scripted();
  const client = connect('ws://node.invalid/entanglement', {
    transport: node.transport, reconnect: false, heartbeatIntervalMs: 40, heartbeatTimeoutMs: 400,
  });
  await until(() => node.sent.length > 0, 'the Hello');
  node.deliver({ case: 'hello', value: { protocolVersion: 1, nodeName: 'hq' } });
  await client.ready;
  await until(() => node.sent.some((e) => e.body.case === 'heartbeat'), 'a heartbeat');
  const detail = await nextState(client, 'disconnected', 5000);
  assert.equal(detail.code, 4000);
  assert.match(detail.reason, /no message from the node for 400 ms/);
  client.close();
});
