import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedis } from '@taskpulse/testkit';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import config from '../tsup.config';

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKSPACE_MODULES = fileURLToPath(new URL('../../../node_modules', import.meta.url));

/** What the smoke scripts do with the built package: publish, subscribe, read the script path. */
const SCENARIO = `
  const broker = createRedisBroker({ redis: process.env.REDIS_URL, prefix: process.env.PREFIX + ':', namespaces: { task: {} } });
  const got = [];
  await broker.subscribe('task:1', { onPublication: (p) => got.push(p) });
  const r = await broker.publish('task:1', 'progress', { progress: 50 });
  while (got.length < 1) await new Promise((res) => setTimeout(res, 5));
  const fs = await import('node:fs');
  console.log(JSON.stringify({ offset: r.offset, delivered: got[0].data, script: fs.existsSync(luaScriptPath('publish')) }));
  await broker.close();
`;

function run(file: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    // Sibling packages resolve to their TypeScript source: only this package is the built one.
    execFile(
      process.execPath,
      ['--conditions=@taskpulse/source', '--import', 'tsx', file],
      { cwd: PACKAGE_ROOT, env: { ...process.env, ...env }, timeout: 30_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim())),
    );
  });
}

describe('the built package (tsup output, ESM and CJS)', () => {
  let dir: string;
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedis();
    // An installed-package layout: <pkg>/dist, <pkg>/lua, <pkg>/package.json.
    dir = mkdtempSync(join(tmpdir(), 'taskpulse-redis-bridge-'));
    const pkg = join(dir, 'pkg');
    await build({ ...config, outDir: join(pkg, 'dist'), dts: false, silent: true, sourcemap: false });
    cpSync(join(PACKAGE_ROOT, 'lua'), join(pkg, 'lua'), { recursive: true });
    cpSync(join(PACKAGE_ROOT, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(WORKSPACE_MODULES, join(pkg, 'node_modules'), 'dir');
    writeFileSync(
      join(dir, 'esm.mjs'),
      `import { createRedisBroker, luaScriptPath } from ${JSON.stringify(join(pkg, 'dist/index.js'))};\n${SCENARIO}`,
    );
    writeFileSync(
      join(dir, 'cjs.cjs'),
      `const { createRedisBroker, luaScriptPath } = require(${JSON.stringify(join(pkg, 'dist/index.cjs'))});\n(async () => {${SCENARIO}})();`,
    );
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [format, file] of [
    ['ESM', 'esm.mjs'],
    ['CJS', 'cjs.cjs'],
  ] as const) {
    it(`finds its Lua scripts and publishes end to end (${format})`, async () => {
      const output = await run(join(dir, file), { REDIS_URL: server.url, PREFIX: format });
      expect(JSON.parse(output)).toEqual({ offset: 1, delivered: { progress: 50 }, script: true });
    });
  }
});
