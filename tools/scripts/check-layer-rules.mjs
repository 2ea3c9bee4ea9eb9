#!/usr/bin/env node
/**
 * Proves that the layer rules of biome.json fire: lints small probe files, written to a temporary
 * copy of the package layout outside the repository, with the repository's own biome.json, and
 * checks that every forbidden import or global is reported and that allowed ones are not.
 *
 * Run by `npm run lint`. Exits 1 (naming the probe) when a rule does not behave as documented in
 * docs/development.md ("Layers").
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const biome = join(root, 'node_modules/.bin/biome');

const IMPORTS = 'lint/style/noRestrictedImports';
const NODE = 'lint/correctness/noNodejsModules';
const GLOBALS = 'lint/style/noRestrictedGlobals';

/** Each probe: a file, its source, and the rules expected to fire (empty: must lint clean). */
const probes = [
  // protocol: zod and its own modules only; no Node or DOM API.
  {
    path: 'packages/protocol/src/probe.ts',
    code: "import { z } from 'zod';\nimport { x } from './channel';\nimport type { Y } from '../payloads/celery';\nexport const a: [unknown, unknown, Y?] = [z, x];\n",
    expect: [],
  },
  {
    path: 'packages/protocol/src/probe.ts',
    code: "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n",
    expect: [NODE, IMPORTS],
  },
  {
    path: 'packages/protocol/src/probe.ts',
    code: "import { EventEmitter } from 'events';\nexport const a = EventEmitter;\n",
    expect: [NODE, IMPORTS, 'lint/style/useNodejsImportProtocol'],
  },
  {
    path: 'packages/protocol/src/probe.ts',
    code: "import { createHub } from '@taskpulse/ws-hub';\nexport const a = createHub;\n",
    expect: [IMPORTS],
  },
  {
    path: 'packages/protocol/src/probe.ts',
    code: "import Redis from 'ioredis';\nexport const a = Redis;\n",
    expect: [IMPORTS],
  },
  {
    path: 'packages/protocol/src/probe.ts',
    code: "import type { Hub } from '@taskpulse/ws-hub';\nexport type A = Hub;\n",
    expect: [IMPORTS],
  },
  {
    path: 'packages/protocol/src/probe.ts',
    code: "export const a = () => import('node:fs');\n",
    expect: [NODE, IMPORTS],
  },
  {
    path: 'packages/protocol/src/probe.ts',
    code: "import { v4 } from 'uuid';\nexport const a = v4;\n",
    expect: [IMPORTS],
  },
  {
    path: 'packages/protocol/src/payloads/probe.ts',
    code: 'export const a = () => window.location.href;\n',
    expect: [GLOBALS],
  },
  { path: 'packages/protocol/src/probe.ts', code: 'export const a = () => document.title;\n', expect: [GLOBALS] },
  {
    path: 'packages/protocol/src/probe.ts',
    code: "export const a = () => new WebSocket('ws://x');\n",
    expect: [GLOBALS],
  },
  { path: 'packages/protocol/src/probe.ts', code: 'export const a = () => process.env.HOME;\n', expect: [GLOBALS] },
  { path: 'packages/protocol/src/probe.ts', code: "export const a = () => Buffer.from('x');\n", expect: [GLOBALS] },
  // The client layers: no server code, no server libraries, no Node builtins.
  ...['fallback-client', 'vue-adapter'].flatMap((pkg) => [
    {
      path: `packages/${pkg}/src/probe.ts`,
      code: "import { parseServerFrame } from '@taskpulse/protocol';\nexport const a = parseServerFrame;\n",
      expect: [],
    },
    {
      path: `packages/${pkg}/src/probe.ts`,
      code: "import { createHub } from '@taskpulse/ws-hub';\nexport const a = createHub;\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/${pkg}/src/probe.ts`,
      code: "import { createPublisher } from '@taskpulse/redis-bridge';\nexport const a = createPublisher;\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/${pkg}/src/probe.ts`,
      code: "import type { X } from '@taskpulse/ws-hub/internal';\nexport type A = X;\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/${pkg}/src/probe.ts`,
      code: "import WebSocket from 'ws';\nexport const a = WebSocket;\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/${pkg}/src/probe.ts`,
      code: "import Redis from 'ioredis';\nexport const a = Redis;\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/${pkg}/src/probe.ts`,
      code: "import { request } from 'node:http';\nexport const a = request;\n",
      expect: [NODE],
    },
  ]),
  // Server packages may use Node and their libraries.
  {
    path: 'packages/ws-hub/src/probe.ts',
    code: "import { createServer } from 'node:http';\nimport { WebSocketServer } from 'ws';\nexport const a = [createServer, WebSocketServer];\n",
    expect: [],
  },
];

const config = JSON.parse(readFileSync(join(root, 'biome.json'), 'utf8'));
delete config.$schema;
config.vcs = { enabled: false }; // the temporary directory is not a git repository

const dir = mkdtempSync(join(tmpdir(), 'taskpulse-layer-rules-'));
const failures = [];
try {
  writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
  for (const probe of probes) {
    const file = join(dir, probe.path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, probe.code);
    const run = spawnSync(biome, ['lint', '--reporter=json', '--max-diagnostics=none', probe.path], {
      cwd: dir,
      encoding: 'utf8',
    });
    rmSync(file);
    let report;
    try {
      report = JSON.parse(run.stdout);
    } catch {
      failures.push(`${probe.path}: biome did not report (exit ${run.status}): ${run.stderr.slice(0, 500)}`);
      continue;
    }
    const fired = new Set(report.diagnostics.map((d) => d.category));
    const missing = probe.expect.filter((rule) => !fired.has(rule));
    const unexpected = [...fired].filter((rule) => !probe.expect.includes(rule));
    if (missing.length || unexpected.length) {
      failures.push(
        `${probe.path} with\n    ${probe.code.trim().replaceAll('\n', '\n    ')}\n  missing: ${missing.join(', ') || '-'}; unexpected: ${unexpected.join(', ') || '-'}`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (failures.length) {
  process.stderr.write(
    `layer rules: ${failures.length} of ${probes.length} probes failed\n  ${failures.join('\n  ')}\n`,
  );
  process.exit(1);
}
process.stdout.write(`layer rules: ${probes.length} probes behave as documented\n`);
