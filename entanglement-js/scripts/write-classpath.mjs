// Writes the classpath of the node the tests start (sample-app and its dependencies, as Maven
// resolved them: exec-maven-plugin passes it as the second argument) to the file named first.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const [file, classpath] = process.argv.slice(2);
if (!file || !classpath) {
  console.error('usage: node scripts/write-classpath.mjs FILE CLASSPATH');
  process.exit(2);
}
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${classpath}\n`);
