// Waiting on conditions with a timeout (no sleeps for synchronization): polls `condition` every
// few milliseconds until it returns a truthy value, which is returned.
export async function until(condition, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves at once if `client` is in `state`, otherwise as {@link nextState}. */
export function reached(client, state, timeoutMs = 60_000) {
  return client.state === state ? Promise.resolve({}) : nextState(client, state, timeoutMs);
}

/** Resolves with the details of the next state event `state` of `client`. */
export function nextState(client, state, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`the client did not become ${state} within ${timeoutMs} ms (it is ${client.state})`));
    }, timeoutMs);
    const off = client.on('state', (s, detail) => {
      if (s === state) {
        clearTimeout(timer);
        off();
        resolve(detail);
      }
    });
  });
}
