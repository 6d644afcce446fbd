// A transport that records every frame, both ways, as the bytes on the wire: what the tests check
// for things a client must never receive.
import { fromBinary } from '@bufbuild/protobuf';
import { nodeTransport, wire } from '../../dist/index.js';

export function recording() {
  const frames = [];
  const transport = (url, events) => {
    const socket = nodeTransport(url, {
      ...events,
      message(bytes) {
        frames.push({ direction: 'in', bytes: Uint8Array.from(bytes), at: Date.now() });
        events.message(bytes);
      },
    });
    return {
      send(bytes) {
        frames.push({ direction: 'out', bytes: Uint8Array.from(bytes), at: Date.now() });
        socket.send(bytes);
      },
      close: (code, reason) => socket.close(code, reason),
    };
  };
  return { frames, transport };
}

/** The envelope of a recorded frame. */
export function envelope(frame) {
  return fromBinary(wire.EnvelopeSchema, frame.bytes);
}

/** Whether any of `frames` holds `text` (as UTF-8) anywhere in its bytes. */
export function anyFrameContains(frames, text) {
  const needle = new TextEncoder().encode(text);
  return frames.some(({ bytes }) => {
    outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
      for (let j = 0; j < needle.length; j++) {
        if (bytes[i + j] !== needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  });
}

/** The non-ephemeral changes the client received in `frames`. */
export function changesIn(frames) {
  return frames.filter((f) => f.direction === 'in').map(envelope)
    .filter((e) => e.body.case === 'changes')
    .flatMap((e) => e.body.value.changes)
    .filter((c) => !c.ephemeral);
}
