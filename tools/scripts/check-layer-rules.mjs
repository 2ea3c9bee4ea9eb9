#!/usr/bin/env node
/**
 * Checks the layer rules (docs/development.md, "Layers") in two ways.
 *
 * 1. Imports: proves that the layer rules of biome.json fire — lints small probe files, written to
 *    a temporary copy of the package layout outside the repository, with the repository's own
 *    biome.json, and checks that every forbidden import or global is reported and that allowed ones
 *    are not. (`biome ci .` then applies the same rules to the real files.)
 * 2. Manifests: no server package's package.json names a package of a layer it may not use, in any
 *    dependency field. Probe manifests prove the check fires; then the real manifests are checked.
 *
 * Run by the lint task. Exits 1 (naming the probe or the manifest) when a rule does not behave as
 * documented.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  // protocol's tests and scripts: the testkit, never another taskpulse package.
  ...['test', 'scripts'].flatMap((dir) => [
    {
      path: `packages/protocol/${dir}/probe.ts`,
      code: "import { startRedis } from '@taskpulse/testkit';\nimport { parseServerFrame } from '@taskpulse/protocol';\nimport { readFileSync } from 'node:fs';\nexport const a = [startRedis, parseServerFrame, readFileSync];\n",
      expect: [],
    },
    ...['@taskpulse/ws-hub', '@taskpulse/redis-bridge', '@taskpulse/redis-bridge/bullmq', '@taskpulse/cli'].map(
      (spec) => ({
        path: `packages/protocol/${dir}/probe.ts`,
        code: `import * as x from '${spec}';\nexport const a = x;\n`,
        expect: [IMPORTS],
      }),
    ),
  ]),
  // ws-hub (sources, tests, configs): no Redis, no redis-bridge, no CLI; brokers come through the Broker interface.
  ...['src', 'test', 'test/fixtures'].flatMap((dir) => [
    {
      path: `packages/ws-hub/${dir}/probe.ts`,
      code: "import { createRedisBroker } from '@taskpulse/redis-bridge';\nexport const a = createRedisBroker;\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/ws-hub/${dir}/probe.ts`,
      code: "import type { RedisBroker } from '@taskpulse/redis-bridge';\nexport type A = RedisBroker;\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/ws-hub/${dir}/probe.ts`,
      code: "export const a = () => import('@taskpulse/redis-bridge');\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/ws-hub/${dir}/probe.ts`,
      code: "export { createCeleryBridge } from '@taskpulse/redis-bridge/celery';\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/ws-hub/${dir}/probe.ts`,
      code: "import { Redis } from 'ioredis';\nexport const a = Redis;\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/ws-hub/${dir}/probe.ts`,
      code: "import { main } from '@taskpulse/cli';\nexport const a = main;\n",
      expect: [IMPORTS],
    },
    {
      path: `packages/ws-hub/${dir}/probe.ts`,
      code: "import { connect } from '@taskpulse/fallback-client';\nexport const a = connect;\n",
      expect: [IMPORTS],
    },
  ]),
  {
    path: 'packages/ws-hub/test/probe.ts',
    code: "import { startRedis } from '@taskpulse/testkit';\nimport { TestClient } from '@taskpulse/testkit/ws-client';\nimport { Server } from 'socket.io';\nimport { parseServerFrame } from '@taskpulse/protocol';\nimport { nativeCodec } from '@taskpulse/ws-hub/dialects';\nexport const a = [startRedis, TestClient, Server, parseServerFrame, nativeCodec];\n",
    expect: [],
  },
  { path: 'packages/ws-hub/tsup.config.probe.ts', code: "export { Redis } from 'ioredis';\n", expect: [IMPORTS] },
  // redis-bridge: no hub, no CLI.
  ...['src', 'test'].flatMap((dir) => [
    {
      path: `packages/redis-bridge/${dir}/probe.ts`,
      code: "import { Redis } from 'ioredis';\nimport { parseServerFrame } from '@taskpulse/protocol';\nimport { createServer } from 'node:net';\nexport const a = [Redis, parseServerFrame, createServer];\n",
      expect: [],
    },
    ...['@taskpulse/ws-hub', '@taskpulse/ws-hub/dialects', '@taskpulse/cli', '@taskpulse/vue-adapter'].map((spec) => ({
      path: `packages/redis-bridge/${dir}/probe.ts`,
      code: `import * as x from '${spec}';\nexport const a = x;\n`,
      expect: [IMPORTS],
    })),
    {
      path: `packages/redis-bridge/${dir}/probe.ts`,
      code: "import type { Hub } from '@taskpulse/ws-hub';\nexport type A = Hub;\n",
      expect: [IMPORTS],
    },
  ]),
  // The composition roots may import every server package.
  ...['packages/cli/src', 'packages/cli/test', 'tools/integration/test', 'examples/worker-status/src'].map((dir) => ({
    path: `${dir}/probe.ts`,
    code: "import { createRedisBroker } from '@taskpulse/redis-bridge';\nimport { createHub } from '@taskpulse/ws-hub';\nimport { taskProgressDialect } from '@taskpulse/ws-hub/dialects';\nimport { Redis } from 'ioredis';\nexport const a = [createRedisBroker, createHub, taskProgressDialect, Redis];\n",
    expect: [],
  })),
];

const config = JSON.parse(readFileSync(join(root, 'biome.json'), 'utf8'));
delete config.$schema;
config.vcs = { enabled: false }; // the temporary directory is not a git repository

const dir = mkdtempSync(join(tmpdir(), 'taskpulse-layer-rules-'));
const failures = [];
try {
  writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
  // Every probe gets a file of its own (its name numbered: the rules select by directory), and one
  // Biome run lints them all.
  const files = probes.map((probe, i) => probe.path.replace(/\.ts$/, `-${i}.ts`));
  probes.forEach((probe, i) => {
    const file = join(dir, files[i]);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, probe.code);
  });
  const run = spawnSync(biome, ['lint', '--reporter=json', '--max-diagnostics=none', ...files], {
    cwd: dir,
    encoding: 'utf8',
  });
  let report;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    failures.push(`biome did not report (exit ${run.status}): ${run.stderr.slice(0, 500)}`);
  }
  probes.forEach((probe, i) => {
    if (!report) return;
    const fired = new Set(report.diagnostics.filter((d) => d.location?.path === files[i]).map((d) => d.category));
    const missing = probe.expect.filter((rule) => !fired.has(rule));
    const unexpected = [...fired].filter((rule) => !probe.expect.includes(rule));
    if (missing.length || unexpected.length) {
      failures.push(
        `${probe.path} with\n    ${probe.code.trim().replaceAll('\n', '\n    ')}\n  missing: ${missing.join(', ') || '-'}; unexpected: ${unexpected.join(', ') || '-'}`,
      );
    }
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// --- Manifests -------------------------------------------------------------------------------

const CLIENTS = ['@taskpulse/fallback-client', '@taskpulse/vue-adapter'];

/**
 * What each server package's manifest may not name. An entry ending in `/*` is a scope. The CLI
 * (and the private workspaces: tools/integration, examples, bench) compose the server packages.
 */
const FORBIDDEN_DEPENDENCIES = {
  '@taskpulse/protocol': ['@taskpulse/*', 'ws', 'ioredis'],
  '@taskpulse/ws-hub': ['@taskpulse/redis-bridge', 'ioredis', '@taskpulse/cli', ...CLIENTS],
  '@taskpulse/redis-bridge': ['@taskpulse/ws-hub', '@taskpulse/cli', ...CLIENTS],
  '@taskpulse/cli': CLIENTS,
};

/** Every field of a manifest that can pull a package in (the `*Meta` field declares optional peers). */
const DEPENDENCY_FIELDS = [
  'dependencies',
  'devDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'optionalDependencies',
  'bundleDependencies',
  'bundledDependencies',
];

/**
 * The forbidden names a manifest mentions, as `name (field)`. Besides its layer's table, no
 * package peer-depends on another taskpulse package: they are released in lockstep, and changesets
 * would bump the dependent a major version whenever its peer is released.
 */
function manifestViolations(manifest) {
  const forbidden = FORBIDDEN_DEPENDENCIES[manifest.name] ?? [];
  const isForbidden = (dep, field) =>
    dep !== manifest.name &&
    (forbidden.some((rule) => (rule.endsWith('/*') ? dep.startsWith(rule.slice(0, -1)) : dep === rule)) ||
      (field.startsWith('peerDependencies') && dep.startsWith('@taskpulse/')));
  return DEPENDENCY_FIELDS.flatMap((field) => {
    const value = manifest[field];
    if (value === undefined) return [];
    const names = Array.isArray(value) ? value : Object.keys(value);
    return names.filter((dep) => isForbidden(dep, field)).map((dep) => `${dep} (${field})`);
  });
}

/** Each probe: a manifest and whether the check must reject it. */
const manifestProbes = [
  ...DEPENDENCY_FIELDS.filter((field) => !field.startsWith('bundle')).map((field) => ({
    manifest: { name: '@taskpulse/ws-hub', [field]: { '@taskpulse/redis-bridge': '0.0.0' } },
    rejected: true,
  })),
  { manifest: { name: '@taskpulse/ws-hub', bundleDependencies: ['ioredis'] }, rejected: true },
  { manifest: { name: '@taskpulse/ws-hub', devDependencies: { ioredis: '^6.0.0' } }, rejected: true },
  { manifest: { name: '@taskpulse/ws-hub', devDependencies: { '@taskpulse/cli': '*' } }, rejected: true },
  { manifest: { name: '@taskpulse/ws-hub', devDependencies: { '@taskpulse/fallback-client': '*' } }, rejected: true },
  {
    manifest: {
      name: '@taskpulse/ws-hub',
      dependencies: { '@taskpulse/protocol': '0.0.0', ws: '^8.0.0' },
      devDependencies: { '@taskpulse/testkit': '*', 'socket.io': '^4.8.1' },
      peerDependencies: { 'socket.io': '^4.8.0' },
    },
    rejected: false,
  },
  { manifest: { name: '@taskpulse/redis-bridge', devDependencies: { '@taskpulse/ws-hub': '0.0.0' } }, rejected: true },
  { manifest: { name: '@taskpulse/redis-bridge', peerDependencies: { '@taskpulse/cli': '*' } }, rejected: true },
  {
    manifest: { name: '@taskpulse/redis-bridge', dependencies: { '@taskpulse/protocol': '0.0.0', ioredis: '^6.0.0' } },
    rejected: false,
  },
  { manifest: { name: '@taskpulse/protocol', devDependencies: { '@taskpulse/testkit': '*' } }, rejected: true },
  { manifest: { name: '@taskpulse/protocol', optionalDependencies: { ws: '^8.0.0' } }, rejected: true },
  { manifest: { name: '@taskpulse/protocol', dependencies: { zod: '^4.0.0' } }, rejected: false },
  { manifest: { name: '@taskpulse/cli', dependencies: { '@taskpulse/vue-adapter': '*' } }, rejected: true },
  {
    manifest: { name: '@taskpulse/vue-adapter', peerDependencies: { '@taskpulse/fallback-client': '*' } },
    rejected: true,
  },
  {
    manifest: { name: '@taskpulse/vue-adapter', dependencies: { '@taskpulse/fallback-client': '0.0.0' } },
    rejected: false,
  },
  {
    manifest: {
      name: '@taskpulse/cli',
      dependencies: { '@taskpulse/ws-hub': '0.0.0', '@taskpulse/redis-bridge': '0.0.0', ioredis: '^6.0.0' },
    },
    rejected: false,
  },
];

for (const { manifest, rejected } of manifestProbes) {
  const found = manifestViolations(manifest).length > 0;
  if (found !== rejected) {
    failures.push(`manifest probe ${JSON.stringify(manifest)}: ${rejected ? 'not rejected' : 'rejected'}`);
  }
}

const manifests = readdirSync(join(root, 'packages'))
  .map((dir) => join(root, 'packages', dir, 'package.json'))
  .filter((file) => existsSync(file))
  .map((file) => ({ file, manifest: JSON.parse(readFileSync(file, 'utf8')) }));
for (const name of Object.keys(FORBIDDEN_DEPENDENCIES)) {
  if (!manifests.some(({ manifest }) => manifest.name === name)) {
    failures.push(`${name}: no manifest under packages/ (rename the entry of FORBIDDEN_DEPENDENCIES)`);
  }
}
for (const { file, manifest } of manifests) {
  for (const violation of manifestViolations(manifest)) {
    failures.push(`${file.slice(root.length + 1)}: ${manifest.name} may not name ${violation}`);
  }
}

const total = probes.length + manifestProbes.length;
if (failures.length) {
  process.stderr.write(`layer rules: ${failures.length} failures (${total} probes)\n  ${failures.join('\n  ')}\n`);
  process.exit(1);
}
process.stdout.write(
  `layer rules: ${probes.length} import probes and ${manifestProbes.length} manifest probes behave as documented; ${manifests.length} manifests follow the layers\n`,
);
