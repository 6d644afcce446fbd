// Starts the real node the protocol tests talk to: sample-app's WebDemoNode (hq serving browsers,
// red and blue dialing it, each on its own H2 database) in a JVM of its own, with the classpath
// the Maven build wrote (target/node-classpath.txt, or ENTANGLEMENT_CLASSPATH_FILE).
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, '..', '..', 'target');

function classpath() {
  const file = process.env.ENTANGLEMENT_CLASSPATH_FILE ?? join(target, 'node-classpath.txt');
  if (!existsSync(file)) {
    throw new Error(`no classpath for the node at ${file}: run the Maven build of entanglement-js first `
      + '(mvn -pl entanglement-js -am verify), which writes it');
  }
  return readFileSync(file, 'utf8').trim();
}

function java() {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/**
 * Starts a node; resolves once it printed its address. `command(line)` sends one stdin command and
 * resolves with its answer (without "ok "), or rejects with an "error ..." answer.
 */
export async function startNode(name = 'node', { startTimeoutMs = 180_000, args = [] } = {}) {
  mkdirSync(target, { recursive: true });
  const log = createWriteStream(join(target, `webdemo-${name}.log`));
  const child = spawn(java(), ['-Xmx384m', '-XX:TieredStopAtLevel=1', '-cp', classpath(),
    'dev.entanglement.sample.web.WebDemoNode', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.pipe(log);
  const lines = createInterface({ input: child.stdout });
  const answers = [];
  let waiting = [];
  let exited = false;
  lines.on('line', (line) => {
    log.write(`[stdout] ${line}\n`);
    if (waiting.length > 0) {
      waiting.shift()(line);
    } else {
      answers.push(line);
    }
  });
  const nextLine = (timeoutMs, what) => new Promise((resolve, reject) => {
    if (answers.length > 0) {
      resolve(answers.shift());
      return;
    }
    if (exited) {
      reject(new Error(`the node exited before ${what} (see target/webdemo-${name}.log)`));
      return;
    }
    const timer = setTimeout(() => {
      waiting = waiting.filter((w) => w !== deliver);
      reject(new Error(`no answer from the node within ${timeoutMs} ms for ${what} (see target/webdemo-${name}.log)`));
    }, timeoutMs);
    const deliver = (line) => {
      clearTimeout(timer);
      resolve(line);
    };
    waiting.push(deliver);
  });
  const exit = new Promise((resolve) => child.on('exit', (code) => {
    exited = true;
    log.end();
    for (const w of waiting) {
      w('error the node exited');
    }
    waiting = [];
    resolve(code);
  }));
  const first = await nextLine(startTimeoutMs, 'its start');
  const match = /^listening (ws:\/\/\S+)(?: page (http:\/\/\S+))?$/.exec(first);
  if (!match) {
    child.kill();
    throw new Error(`the node printed '${first}' instead of its address`);
  }
  let chain = Promise.resolve();
  const command = (line, timeoutMs = 60_000) => {
    const answer = chain.then(async () => {
      child.stdin.write(`${line}\n`);
      const reply = await nextLine(timeoutMs, `'${line}'`);
      if (!reply.startsWith('ok')) {
        throw new Error(`the node answered '${reply}' to '${line}'`);
      }
      return reply.slice(3);
    });
    chain = answer.catch(() => undefined);
    return answer;
  };
  return {
    url: match[1],
    /** The live board's address (with args --page PORT), else undefined. */
    page: match[2],
    command,
    /** Closes stdin (the node's way to stop) and waits for the process to end. */
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
