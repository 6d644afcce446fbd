/**
 * The one small interface between the client and a WebSocket: the browser's own `WebSocket`, or
 * the `ws` package in Node (Node 20 has no global WebSocket without a flag, and Node's global one
 * cannot read a refused upgrade's status and reason). The `ws` package is loaded only in Node, by
 * a dynamic import, so the browser path imports no Node built-ins.
 */

/** What a transport reports; one socket's events, each at most as documented. */
export interface TransportEvents {
  /** The WebSocket is open. */
  open(): void;
  /** One binary message. */
  message(bytes: Uint8Array): void;
  /** The socket closed (after open, or a failed attempt: code 1006). Called once, last. */
  close(code: number, reason: string): void;
  /**
   * The upgrade was answered with an HTTP status instead (401, 403...) and `reason` as its body;
   * `close` follows. Browsers do not expose this (a refusal is a close with code 1006 there), so
   * the browser transport asks the node over plain HTTP after a connection that never opened.
   */
  refused(status: number, reason: string): void;
}

/** An open (or opening) socket. */
export interface Transport {
  send(bytes: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** Opens a socket to `url`; events are delivered to `events`. */
export type TransportFactory = (url: string, events: TransportEvents) => Transport;

/** How long the browser transport waits for the node's answer on why a connection never opened. */
const ASK_TIMEOUT_MS = 10_000;

/**
 * The browser's WebSocket (also any WHATWG-compatible global WebSocket). Browsers hide a refused
 * upgrade's status and body (the socket just closes, 1006), so when a connection closes before it
 * ever opened, this asks the node the same question over plain HTTP: a GET of the same URL
 * (http(s) for ws(s)), with the page's cookies, which the node answers with its identity's decision
 * (401/403 and the reason, reported as `refused`; 426 when it would admit this client, so the
 * failure was something else and the client keeps reconnecting). Only browser APIs (fetch,
 * AbortController).
 */
export function browserTransport(url: string, events: TransportEvents): Transport {
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  let opened = false;
  let closed = false;
  let closeRequested = false;
  socket.onopen = () => {
    opened = true;
    events.open();
  };
  socket.onmessage = (event: MessageEvent) => {
    if (event.data instanceof ArrayBuffer) {
      events.message(new Uint8Array(event.data));
    }
  };
  socket.onclose = (event: CloseEvent) => {
    if (closed) {
      return;
    }
    closed = true;
    if (opened || closeRequested) {
      events.close(event.code, event.reason);
      return;
    }
    askWhy(url).then((answer) => {
      if (answer?.refused) {
        events.refused(answer.status, answer.reason);
      }
      events.close(event.code, answer && answer.status >= 400 && !answer.admitted ? answer.reason : event.reason);
    });
  };
  return {
    send: (bytes) => socket.send(bytes),
    close: (code = 1000, reason = '') => {
      closeRequested = true;
      socket.close(code, reason);
    },
  };
}

/**
 * What the node answers a plain GET of the endpoint: refused (401, 403) with its reason, admitted
 * (426), another status with its body, or undefined when it could not be asked (no fetch, the node
 * is unreachable, or the page's origin may not read the answer).
 */
async function askWhy(url: string): Promise<{ status: number; reason: string; refused: boolean; admitted: boolean } | undefined> {
  const fetcher = (globalThis as any).fetch as typeof fetch | undefined;
  if (!fetcher) {
    return undefined;
  }
  const http = new URL(url);
  http.protocol = http.protocol === 'wss:' ? 'https:' : 'http:';
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ASK_TIMEOUT_MS);
  try {
    const response = await fetcher(http.toString(), { credentials: 'include', cache: 'no-store', signal: abort.signal });
    const reason = (await response.text()).trim();
    return {
      status: response.status,
      reason,
      refused: response.status === 401 || response.status === 403,
      admitted: response.status === 426,
    };
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

type WsModule = { WebSocket: new (url: string, options?: object) => any };
let wsModule: Promise<WsModule> | undefined;

/** The `ws` package (Node): loaded on first use. */
export function nodeTransport(url: string, events: TransportEvents): Transport {
  let socket: any;
  let ended = false;
  let lastError = '';
  let closeRequested: [number, string] | undefined;
  const end = (code: number, reason: string) => {
    if (!ended) {
      ended = true;
      events.close(code, reason);
    }
  };
  const specifier = 'ws'; // not a static import: browsers and bundlers never resolve it
  wsModule ??= import(/* @vite-ignore */ specifier).then((m: any) => (m.WebSocket ? m : m.default));
  wsModule.then(
    ({ WebSocket: Ws }) => {
      if (closeRequested) {
        end(closeRequested[0], closeRequested[1]);
        return;
      }
      socket = new Ws(url, { perMessageDeflate: false });
      socket.binaryType = 'nodebuffer';
      socket.on('open', () => events.open());
      socket.on('message', (data: Uint8Array, isBinary: boolean) => {
        if (isBinary) {
          events.message(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        }
      });
      socket.on('unexpected-response', (request: any, response: any) => {
        const chunks: Uint8Array[] = [];
        response.on('data', (chunk: Uint8Array) => chunks.push(chunk));
        response.on('end', () => {
          const body = new TextDecoder().decode(concat(chunks)).trim();
          events.refused(response.statusCode, body);
          request.destroy();
          end(1006, body);
        });
        response.on('error', () => end(1006, 'the refusal could not be read'));
      });
      // a failed attempt: 'close' (1006) follows; keep the reason for it
      socket.on('error', (error: Error) => {
        lastError = String(error.message ?? error);
      });
      socket.on('close', (code: number, reason: Uint8Array) =>
        end(code, new TextDecoder().decode(reason) || (code === 1006 ? lastError : '')));
    },
    (error: unknown) => end(1006, `the ws package could not be loaded: ${String(error)}`),
  );
  return {
    send: (bytes) => socket?.send(bytes),
    close: (code = 1000, reason = '') => {
      if (socket) {
        if (socket.readyState === socket.CONNECTING) {
          socket.terminate();
        } else {
          socket.close(code, reason);
        }
      } else {
        closeRequested = [code, reason];
      }
    },
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const size = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const all = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}

/** Node (with `ws`) when running in Node, otherwise the browser's WebSocket. */
export const defaultTransport: TransportFactory = (url, events) =>
  (globalThis as any).process?.versions?.node ? nodeTransport(url, events) : browserTransport(url, events);
