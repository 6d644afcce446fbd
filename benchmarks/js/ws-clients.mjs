// WebSocket clients for the benchmark's `browsers` scenario (scenarios/Browsers.java): one Node
// process holds many clients, driven by commands on stdin, one a line, each answered by one line
// on stdout (errors: `error ...`). Receive times go to stdout as sample lines, flushed every 20 ms.
//
//   connect ent URL FIRST COUNT [STALLED]  COUNT clients of @entanglement/client (entanglement-js's
//                                          dist/), tokens cFIRST.., at most 50 opening at once:
//                                          `ready ent COUNT MILLIS`. Client STALLED (an index) gets a
//                                          socket that can be paused and no watchdog of its own
//   connect raw URL FIRST COUNT            COUNT bare `ws` sockets to URL?c=INDEX: `ready raw COUNT MILLIS`
//   pause I / resume I                     stop / go on reading client I's socket (TCP backs up): `ok`
//   held I                                 `held I K:CHANGE,...` what client I's store holds
//   clock                                  `clock MICROS` this process's wall clock (epoch microseconds)
//   stats                                  `stats CPU_USER_US CPU_SYSTEM_US RSS HEAP CONNECTED RECONNECTS ERRORS
//                                          ENT_FRAMES ENT_BYTES RAW_FRAMES RAW_BYTES` (frames and bytes received)
//   quit                                   closes every client, `bye`, exits
//
// Sample lines: `s CLIENT CHANGE MICROS`: client CLIENT's store (ent) or socket (raw) shows the
// state written by change number CHANGE at MICROS (epoch microseconds: performance.timeOrigin +
// performance.now(), the same wall clock the JVM reads with Instant.now()).
//
// Imports come from entanglement-js (its dist/ and node_modules/, built by `npm ci && npm run
// build` there, or by the Maven build of that module): the same package instances the client uses.
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const js = new URL('../../entanglement-js/', import.meta.url);
const { connect, nodeTransport, wire } = await import(new URL('dist/index.js', js).href);
const { fromBinary } = await import(new URL('node_modules/@bufbuild/protobuf/dist/esm/index.js', js).href);
const { WebSocket } = await import(new URL('node_modules/ws/wrapper.mjs', js).href);

const ENTITY = 'WebItem';
const MAX_OPENING = 50;

const ent = new Map(); // index -> {client, socketBox, connects}
const raw = new Map(); // index -> ws
let errors = 0;
let reconnects = 0;
// frames and bytes received, by kind of client: what the node sends besides the changes (acks,
// position-only batches, heartbeats) shows here
const received = { ent: { frames: 0, bytes: 0 }, raw: { frames: 0, bytes: 0 } };

/** entanglement-js's own `ws` transport, counting what arrives. */
function countingTransport(url, events) {
  return nodeTransport(url, {
    ...events,
    message: (bytes) => {
      received.ent.frames++;
      received.ent.bytes += bytes.byteLength;
      events.message(bytes);
    },
  });
}
let samples = [];

function nowMicros() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function record(client, change) {
  if (typeof change === 'number' && change >= 0) {
    samples.push(`s ${client} ${change} ${nowMicros()}\n`);
  }
}

setInterval(() => {
  if (samples.length > 0) {
    const text = samples.join('');
    samples = [];
    process.stdout.write(text);
  }
}, 20).unref();

function reply(line) {
  process.stdout.write(line + '\n');
}

/**
 * The `ws` transport of entanglement-js (transport.ts, nodeTransport) with a handle on the socket,
 * so that the scenario can stop reading it (ws's pause(): the socket stops reading, the kernel's
 * buffers fill, then the node's). Used for the one client that stalls.
 */
function pausableTransport(box) {
  return (url, events) => {
    let ended = false;
    const end = (code, reason) => {
      if (!ended) {
        ended = true;
        events.close(code, reason);
      }
    };
    const socket = new WebSocket(url, { perMessageDeflate: false });
    box.socket = socket;
    if (box.paused) {
      socket.pause();
    }
    socket.binaryType = 'nodebuffer';
    socket.on('open', () => events.open());
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        received.ent.frames++;
        received.ent.bytes += data.byteLength;
        events.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      }
    });
    socket.on('unexpected-response', (request, response) => {
      events.refused(response.statusCode, String(response.statusMessage));
      request.destroy();
      end(1006, String(response.statusCode));
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', (code, reason) => end(code, reason.toString()));
    return {
      send: (bytes) => socket.send(bytes),
      close: (code = 1000, reason = '') => (socket.readyState === socket.CONNECTING ? socket.terminate() : socket.close(code, reason)),
    };
  };
}

function openEnt(url, index, stalled) {
  return new Promise((resolve, reject) => {
    const box = { socket: undefined, paused: false };
    const options = { token: `c${index}`, transport: countingTransport };
    if (index === stalled) {
      options.transport = pausableTransport(box);
      // its own watchdog would reconnect after 15 s without a message: this client stays put
      options.heartbeatTimeoutMs = 3_600_000;
    }
    const client = connect(url, options);
    const entry = { client, box, connects: 0 };
    ent.set(index, entry);
    client.on('error', () => errors++);
    client.on('state', (state) => {
      if (state === 'connected' && ++entry.connects > 1) {
        reconnects++;
      }
    });
    const store = client.objects(ENTITY);
    store.on('added', (item) => record(index, item.data.changeNumber));
    store.on('updated', (item) => record(index, item.data.changeNumber));
    client.ready.then(resolve, reject);
  });
}

function openRaw(url, index) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url}?c=${index}`, { perMessageDeflate: false });
    raw.set(index, socket);
    socket.binaryType = 'nodebuffer';
    socket.on('open', resolve);
    socket.on('error', (error) => {
      errors++;
      reject(error);
    });
    socket.on('message', (data) => {
      received.raw.frames++;
      received.raw.bytes += data.byteLength;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const envelope = fromBinary(wire.EnvelopeSchema, bytes);
      for (const change of envelope.body.value.changes) {
        const attribute = change.attributes.find((a) => a.name === 'changeNumber');
        record(index, Number(attribute.value.kind.value));
      }
    });
  });
}

async function openAll(kind, url, first, count, stalled) {
  const start = performance.now();
  const indexes = Array.from({ length: count }, (_, i) => first + i);
  let next = 0;
  const worker = async () => {
    while (next < indexes.length) {
      const index = indexes[next++];
      await (kind === 'ent' ? openEnt(url, index, stalled) : openRaw(url, index));
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_OPENING, count) }, worker));
  reply(`ready ${kind} ${count} ${Math.round(performance.now() - start)}`);
}

function held(index) {
  const entry = ent.get(index);
  if (!entry) {
    return `error no client ${index}`;
  }
  const items = entry.client.objects(ENTITY).all().map((item) => `${item.id}:${item.data.changeNumber}`);
  return `held ${index} ${items.join(',')}`;
}

function stats() {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const connected = [...ent.values()].filter((e) => e.client.state === 'connected').length;
  return `stats ${cpu.user} ${cpu.system} ${memory.rss} ${memory.heapUsed} ${connected} ${reconnects} ${errors}`
    + ` ${received.ent.frames} ${received.ent.bytes} ${received.raw.frames} ${received.raw.bytes}`;
}

function quit() {
  for (const entry of ent.values()) {
    entry.client.close();
  }
  for (const socket of raw.values()) {
    socket.terminate();
  }
  reply('bye');
  setTimeout(() => process.exit(0), 100); // let the close frames go
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const words = line.trim().split(/\s+/);
  try {
    switch (words[0]) {
      case 'connect': {
        const [, kind, url, first, count, stalled] = words;
        openAll(kind, url, Number(first), Number(count), stalled === undefined ? -1 : Number(stalled))
          .catch((error) => reply(`error connect ${kind}: ${error?.message ?? error}`));
        break;
      }
      case 'pause':
      case 'resume': {
        const box = ent.get(Number(words[1]))?.box;
        if (!box?.socket) {
          reply(`error client ${words[1]} has no pausable socket`);
          break;
        }
        box.paused = words[0] === 'pause';
        if (box.paused) {
          box.socket.pause();
        } else {
          box.socket.resume();
        }
        reply('ok');
        break;
      }
      case 'held':
        reply(held(Number(words[1])));
        break;
      case 'clock':
        reply(`clock ${nowMicros()}`);
        break;
      case 'stats':
        reply(stats());
        break;
      case 'quit':
        quit();
        break;
      default:
        reply(`error unknown command '${words[0]}'`);
    }
  } catch (error) {
    reply(`error ${words[0]}: ${error?.message ?? error}`);
  }
});
lines.on('close', quit); // the harness went away
