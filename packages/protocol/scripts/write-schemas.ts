/**
 * Writes `schemas/<name>.json` from the zod schemas (see `src/json-schema.ts`) and removes files
 * that no longer have a source. Run with `npm run schemas -w @taskpulse/protocol`; the test suite
 * fails when the checked-in files drift from the zod source.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderSchemaFiles, SCHEMA_DIR } from './schema-files';

const dir = fileURLToPath(SCHEMA_DIR);
mkdirSync(dir, { recursive: true });
const files = renderSchemaFiles();
let changed = 0;
for (const [name, content] of files) {
  const path = `${dir}${name}`;
  let previous: string | null = null;
  try {
    previous = readFileSync(path, 'utf8');
  } catch {
    // a new schema: nothing to compare with
  }
  if (previous !== content) {
    writeFileSync(path, content);
    changed++;
  }
}
for (const name of readdirSync(dir)) {
  if (name.endsWith('.json') && !files.has(name)) {
    rmSync(`${dir}${name}`);
    changed++;
  }
}
process.stdout.write(`schemas: ${files.size} files in ${dir}, ${changed} changed\n`);
