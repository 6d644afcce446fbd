// Real headless Chromium for the browser tests, driven by playwright-core (which downloads no
// browser of its own): Debian's `chromium` package, or the executable named by CHROMIUM.
// Without one the browser tests are skipped with the reason, except on CI (CI set), where a
// missing browser fails: .ci/run installs it.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);

/** The Chromium executable, or undefined. */
export function chromiumPath() {
  return candidates.find((path) => existsSync(path));
}

/** Why the browser tests cannot run here (undefined: they can); throws on CI. */
export function browserMissing() {
  if (chromiumPath()) {
    return undefined;
  }
  const why = `no Chromium at ${candidates.join(' or ')}: install Debian's chromium package `
    + '(apt-get install chromium), or name an executable with CHROMIUM=...';
  if (process.env.CI) {
    throw new Error(`${why}; on CI the browser tests must run (.ci/run installs it)`);
  }
  return why;
}

/** Launches headless Chromium with the flags this machine's closed network needs. */
export function launch() {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
