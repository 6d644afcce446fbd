// The offline queue without a node: a client whose node is unreachable queues requests up to
// maxQueued, refuses more at once, and rejects what it holds as not sent when closed.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { NotSentError, QueueFullError, connect } from '../dist/index.js';
import { nextState } from './support/wait.js';

/** A port on which nothing listens (bound, then released). */
async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('requests queue while disconnected up to maxQueued; more are refused at once; close rejects them as not sent', async () => {
  const client = connect(`ws://127.0.0.1:${await closedPort()}/entanglement`, {
    token: 'alice-secret', maxQueued: 2, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, random: () => 0.5,
  });
  const detail = await nextState(client, 'disconnected');
  assert.ok(detail.retryInMs > 0);
  const first = client.update('Card', 'c6e1a0d2-0000-4000-8000-000000000001', { lane: 'done' }, { owner: 'red' });
  const second = client.create('Card', { title: 'offline' }, { owner: 'red' });
  assert.equal(client.pending, 2);
  await assert.rejects(client.delete('Card', 'c6e1a0d2-0000-4000-8000-000000000001', { owner: 'red' }),
    (error) => error instanceof QueueFullError && error.code === 'queue-full');
  // the backoff grows: later attempts wait longer
  const delays = [detail.retryInMs];
  for (let i = 0; i < 2; i++) {
    delays.push((await nextState(client, 'disconnected')).retryInMs);
  }
  assert.ok(delays[1] > delays[0] && delays[2] > delays[1], `delays ${delays}`);
  client.close();
  await assert.rejects(first, NotSentError);
  await assert.rejects(second, NotSentError);
  assert.equal(client.state, 'closed');
});
