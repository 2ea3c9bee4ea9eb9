#!/usr/bin/env node
/**
 * Pack-and-install smoke test: what a user installs must work.
 *
 * 1. `npm pack` every publishable package under packages/ (private ones are skipped), each with
 *    its LICENSE and its `repository` (with `directory`), `homepage` and `bugs` fields;
 * 2. install all the tarballs together into a fresh project in a temporary directory outside the
 *    repository (third-party dependencies come from the npm cache or the registry);
 * 3. for each entry point of each package (`.` and every subpath of `exports` that has a
 *    `@taskpulse/source` condition, e.g. `@taskpulse/ws-hub/dialects`), `import` it from an ES
 *    module and `require` it from a CommonJS module, call one real function and compare the result
 *    with the expected value;
 * 4. type-check a consumer of each entry point the way strict users compile (`skipLibCheck: false`):
 *    ESM and CommonJS under `module: node16`, and ESM under `moduleResolution: bundler`, with only
 *    what a user installs (the tarballs, their dependencies, `@types/node`), so that a public type
 *    that needs a dev dependency (TS7016) or an ESM-only import in `.d.cts` (TS1479) fails here.
 *
 * Run after the build (`npm test` does: `turbo run … build … && node tools/scripts/pack-smoke.mjs`).
 * Options: `--keep` leaves the temporary project on disk; `--filter=<name>` (repeatable) checks only
 * the named packages (their workspace dependencies are packed and installed with them).
 * A new package or subpath needs an entry in SMOKE_CHECKS (see docs/development.md, "Adding a package").
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const keep = process.argv.includes('--keep');
const filters = process.argv.filter((arg) => arg.startsWith('--filter=')).map((arg) => arg.slice('--filter='.length));

/**
 * One check per entry point (keyed by its specifier): `check` is the body of `async (m, { fs, json }) => …` where `m` is the
 * module namespace (ESM) or the `require` result (CJS), `fs` is node:fs and `json(specifier)`
 * loads a JSON file through the package's exports. Its result must deep-equal `expect` in both
 * module systems.
 */
const SMOKE_CHECKS = {
  '@taskpulse/protocol': {
    check: `[
      m.channels.task('8f2c'),
      m.parseClientFrame('{"type":"ping","id":1}'),
      m.parseServerFrame('{"type":"pong"').error.code,
      m.httpStatusFor('forbidden'),
      (await json('@taskpulse/protocol/schemas/worker-status.json')).$id,
    ]`,
    expect: [
      'task:8f2c',
      { ok: true, value: { type: 'ping', id: 1 } },
      'bad_frame',
      403,
      'urn:taskpulse:protocol:v1:worker-status',
    ],
  },
  '@taskpulse/protocol/payloads': {
    check: `[
      m.WORKER_STATUS_REDIS_CHANNEL,
      m.channelForLegacyRoom('test-progress-stress_42'),
      m.workerStatusSchema.safeParse({ running: 'yes' }).success,
    ]`,
    expect: ['processor:status:realtime', 'test-progress:stress_42', false],
  },
  '@taskpulse/ws-hub': {
    check: `(async () => {
      const broker = m.createMemoryBroker({ namespaces: { task: {} } });
      const published = await broker.publish('task:1', 'progress', { progress: 50 });
      const state = await broker.state('task:1');
      await broker.close();
      return [published.offset, state.latest.event, state.latest.data];
    })()`,
    expect: [1, 'progress', { progress: 50 }],
  },
  '@taskpulse/ws-hub/dialects': {
    check: `(() => {
      const dialect = m.processorStatusDialect();
      return [dialect.name, dialect.path, m.matchRoutePath('/api/tasks/:id', '/api/tasks/42'), m.CLIENT_RECORD_NAMESPACE];
    })()`,
    expect: ['processor-status', '/ws/processor-status', { id: '42' }, 'dialect-client'],
  },
  '@taskpulse/redis-bridge': {
    check: `[
      m.channelKeys('taskpulse:', 'task:42'),
      fs.existsSync(m.luaScriptPath('publish')),
    ]`,
    expect: [
      { meta: 'taskpulse:{task:42}:meta', history: 'taskpulse:{task:42}:history', pubsub: 'taskpulse:{task:42}' },
      true,
    ],
  },
  '@taskpulse/redis-bridge/celery': {
    check: `[m.celeryChannelNames('redis://127.0.0.1:6379/0').events, typeof m.createCeleryBridge]`,
    expect: ['/0.celeryev', 'function'],
  },
  '@taskpulse/redis-bridge/bullmq': {
    check: `[m.BULLMQ_JOB_EVENTS.includes('progress'), typeof m.testQueueMapping()]`,
    expect: [true, 'function'],
  },
  '@taskpulse/fallback-client': {
    // ESM/CJS through the Node entry, plus the minified browser bundle (`/browser`).
    check: `(async () => {
      const browser = await import('@taskpulse/fallback-client/browser');
      const client = m.createClient({ url: 'http://127.0.0.1:9', transports: 'polling' });
      await client.close();
      return [
        m.backoffDelayMs(3, { ...m.DEFAULT_BACKOFF, jitter: 'none' }),
        client.state.status,
        typeof browser.createClient,
        browser.TRANSPORT_OVERRIDE_PARAM,
      ];
    })()`,
    expect: [8000, 'closed', 'function', 'taskpulse-transport'],
  },
  '@taskpulse/dashboard': {
    check: `[
      fs.readFileSync(m.dashboardAssetsDir + '/index.html', 'utf8').includes('<div id="app">'),
      fs.readdirSync(m.dashboardAssetsDir + '/assets').some((f) => f.endsWith('.js')),
    ]`,
    expect: [true, true],
  },
  '@taskpulse/cli': {
    check: `(async () => {
      const config = m.parseConfig({ dialects: { 'processor-status': true } });
      let problems;
      try {
        m.parseConfig({ limits: { maxConection: 1 } }, 'hub.json');
      } catch (error) {
        problems = error.problems;
      }
      const { bin } = await json('@taskpulse/cli/package.json');
      return [config.dialects['processor-status'], problems, bin['taskpulse-hub'], fs.existsSync('node_modules/.bin/taskpulse-hub')];
    })()`,
    expect: [true, ['limits.maxConection: unknown key'], './dist/cli.js', true],
  },
  // ESM-only (no require condition): checked by import only. Server rendering with the plugin
  // and two composables, which must connect nothing (the URL points at a closed port).
  '@taskpulse/vue-adapter': {
    check: `(async () => {
      const { createSSRApp, defineComponent, h } = await import('vue');
      const { renderToString } = await import('vue/server-renderer');
      const Panel = defineComponent({
        setup() {
          const { mode } = m.useConnectionStatus();
          const { data } = m.useChannelState('processor:status');
          return () => h('p', mode.value + ' ' + data.value);
        },
      });
      const html = await renderToString(createSSRApp(Panel).use(m.taskpulse, { url: 'http://127.0.0.1:9' }));
      return [html, m.connectionModeOf({ status: 'degraded', transport: 'polling' }), typeof m.ConnectionIndicator.setup];
    })()`,
    expect: ['<p>connecting null</p>', 'polling', 'function'],
  },
};

function log(message) {
  process.stdout.write(`pack-smoke: ${message}\n`);
}

class SmokeFailure extends Error {}

function fail(message) {
  throw new SmokeFailure(message);
}

function npm(args, cwd) {
  const run = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (run.status !== 0) fail(`npm ${args.join(' ')} failed in ${cwd}:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

/** Publishable packages: packages/* with a package.json that is not private. */
function publishablePackages() {
  const dir = join(root, 'packages');
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'package.json')))
    .map((entry) => {
      const path = join(dir, entry.name);
      return { path, manifest: JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')) };
    })
    .filter(({ manifest }) => manifest.private !== true);
}

/**
 * The entry points of a package, as specifiers: `.` and every subpath of `exports` that has a
 * `@taskpulse/source` condition (the TypeScript entries; `./browser`, `./package.json` and file
 * patterns are not modules of their own).
 */
function entryPoints(manifest) {
  const exports = manifest.exports ?? {};
  return Object.entries(exports)
    .filter(([key, value]) => key === '.' || (typeof value === 'object' && value && '@taskpulse/source' in value))
    .map(([key]) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`));
}

/** True when the entry point offers a CommonJS entry (`require` or `default` condition). */
function hasRequireEntry(manifest, specifier = manifest.name) {
  const key = specifier === manifest.name ? '.' : `./${specifier.slice(manifest.name.length + 1)}`;
  const main = manifest.exports?.[key] ?? (key === '.' ? manifest.exports : undefined);
  if (typeof main === 'string') return true;
  return Boolean(main && (main.require || main.default || main.node?.require));
}

/** The packages to check (all, or the filtered ones) and the ones to pack (plus their workspace deps). */
function selectPackages() {
  const all = publishablePackages();
  if (all.length === 0) fail('no publishable package under packages/');
  const byName = new Map(all.map((pkg) => [pkg.manifest.name, pkg]));
  for (const name of filters) if (!byName.has(name)) fail(`--filter=${name}: no such publishable package`);
  const checked = filters.length ? all.filter((pkg) => filters.includes(pkg.manifest.name)) : all;
  const packed = new Set();
  const visit = (pkg) => {
    if (packed.has(pkg)) return;
    packed.add(pkg);
    for (const dep of Object.keys({ ...pkg.manifest.dependencies, ...pkg.manifest.peerDependencies })) {
      const workspace = byName.get(dep);
      if (workspace && pkg.manifest.dependencies?.[dep] !== undefined) visit(workspace);
    }
  };
  checked.forEach(visit);
  return { checked, packed: [...packed] };
}

function main(work, { checked, packed }) {
  // 1. Pack.
  const tarballs = [];
  for (const { path, manifest } of packed) {
    if (!existsSync(join(path, 'dist'))) fail(`${manifest.name} has no dist/: build first (npm run build)`);
    const [result] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], path));
    tarballs.push(join(work, result.filename));
    log(`packed ${result.filename} (${result.entryCount} files, ${result.size} bytes)`);
    // What npm shows and links to: the license text, and where the sources and docs live.
    if (!result.files.some((f) => f.path === 'LICENSE')) fail(`${manifest.name}: the tarball has no LICENSE`);
    for (const field of ['repository', 'homepage', 'bugs']) {
      if (!manifest[field]) fail(`${manifest.name}: package.json has no "${field}"`);
    }
    if (!manifest.repository.directory) fail(`${manifest.name}: package.json "repository" has no "directory"`);
  }

  // 2. Install into a fresh project outside the repository.
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pack-smoke', private: true, version: '0.0.0' }));
  npm(
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--ignore-scripts',
      '--no-package-lock',
      ...tarballs,
      // What a TypeScript user of a Node package has anyway (step 4).
      '@types/node@^20.19.0',
    ],
    project,
  );
  log(`installed ${tarballs.length} tarball(s) into ${project}`);

  // 2b. The CommonJS build runs the same code as the ES module build: tsup converts split CommonJS
  // chunks with sucrase unless rollup does it (`treeshake: true`), and sucrase rewrites every `?.`
  // and `??` into helper calls that allocate an array and closures per use, on hot paths too.
  const downleveled = downleveledFiles(project, packed);
  if (downleveled.length) {
    fail(
      `${downleveled.length} built file(s) carry sucrase's optional-chaining helpers (set \`treeshake: true\` beside \`splitting: true\` in tsup.config.ts):\n  ${downleveled.join('\n  ')}`,
    );
  }
  log('no built file carries down-levelled `?.`/`??` helpers');

  // 3. import and require one real function of each package.
  const failures = [];
  const entries = checked.flatMap(({ manifest }) => entryPoints(manifest).map((name) => ({ manifest, name })));
  for (const { manifest, name } of entries) {
    const { check, expect } = SMOKE_CHECKS[name];
    const modes = {
      import: {
        file: 'smoke.mjs',
        source: `import * as m from '${name}';
import fs from 'node:fs';
const json = async (specifier) => (await import(specifier, { with: { type: 'json' } })).default;
const resolved = import.meta.resolve('${name}');
const result = await (async (m, { fs, json }) => ${check})(m, { fs, json });
process.stdout.write(JSON.stringify({ resolved, result }));
`,
      },
      require: {
        file: 'smoke.cjs',
        source: `const m = require('${name}');
const fs = require('node:fs');
const json = async (specifier) => require(specifier);
const resolved = require.resolve('${name}');
(async (m, { fs, json }) => ${check})(m, { fs, json }).then(
  (result) => process.stdout.write(JSON.stringify({ resolved, result })),
  (error) => { process.stderr.write(String((error && error.stack) || error)); process.exit(1); },
);
`,
      },
    };
    for (const [mode, { file, source }] of Object.entries(modes)) {
      if (mode === 'require' && !hasRequireEntry(manifest, name)) {
        log(`${name}: ESM-only (no require condition), require skipped`);
        continue;
      }
      writeFileSync(join(project, file), source);
      const run = spawnSync(process.execPath, [file], { cwd: project, encoding: 'utf8' });
      if (run.status !== 0) {
        failures.push(`${name} (${mode}): exited ${run.status}\n${run.stderr}`);
        continue;
      }
      const { resolved, result } = JSON.parse(run.stdout);
      if (!resolved.includes('/node_modules/') || resolved.includes('/src/')) {
        failures.push(`${name} (${mode}): resolved to ${resolved}, not to the installed build`);
      } else if (!isDeepStrictEqual(result, expect)) {
        failures.push(`${name} (${mode}): expected ${JSON.stringify(expect)}, got ${JSON.stringify(result)}`);
      } else {
        log(`${name} (${mode}) → ${resolved.slice(resolved.indexOf('node_modules/'))}: ok`);
      }
    }
  }
  if (failures.length) fail(`${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
  log(`${entries.length} entry point(s) of ${checked.length} package(s) import and require from their tarballs`);

  // 4. Type-check consumers.
  const typeFailures = typecheckConsumers(project, checked);
  if (typeFailures.length)
    fail(`${typeFailures.length} consumer type check(s) failed:\n  ${typeFailures.join('\n  ')}`);
  log(`${entries.length} entry point(s) type-check in strict consumers (node16 ESM/CJS, bundler)`);
}

/** Installed `.js`/`.cjs` files of the packed packages that contain sucrase's `?.`/`??` helpers. */
function downleveledFiles(project, packed) {
  const found = [];
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (/\.c?js$/.test(entry.name) && /\b_(optionalChain|nullishCoalesce)\(/.test(readFileSync(path, 'utf8'))) {
        found.push(path.slice(project.length + 1));
      }
    }
  };
  for (const { manifest } of packed) {
    const dist = join(project, 'node_modules', manifest.name, 'dist');
    if (existsSync(dist)) visit(dist);
  }
  return found;
}

/** Consumer projects of step 4: module system, resolution, and the file that imports the package. */
const TYPE_CASES = [
  { name: 'esm-node16', type: 'module', file: 'index.ts', module: 'node16', moduleResolution: 'node16' },
  { name: 'cjs-node16', type: 'commonjs', file: 'index.cts', module: 'node16', moduleResolution: 'node16', cjs: true },
  { name: 'esm-bundler', type: 'module', file: 'index.ts', module: 'esnext', moduleResolution: 'bundler' },
];

function typecheckConsumers(project, checked) {
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const failures = [];
  for (const { manifest } of checked) {
    for (const name of entryPoints(manifest)) {
      for (const c of TYPE_CASES) {
        if (c.cjs && !hasRequireEntry(manifest, name)) continue;
        const dir = join(project, `types-${name.replace(/[@/]/g, '_')}-${c.name}`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: c.type }));
        writeFileSync(
          join(dir, 'tsconfig.json'),
          JSON.stringify({
            compilerOptions: {
              strict: true,
              noEmit: true,
              skipLibCheck: false,
              target: 'es2022',
              lib: ['es2022', 'dom'],
              module: c.module,
              moduleResolution: c.moduleResolution,
              types: ['node'],
            },
            files: [c.file],
          }),
        );
        // Every export's type is reached, and skipLibCheck: false checks every declaration file.
        writeFileSync(join(dir, c.file), `import * as m from '${name}';\nexport type Everything = typeof m;\n`);
        const run = spawnSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
        if (run.status !== 0) failures.push(`${name} (${c.name}):\n${run.stdout}${run.stderr}`);
        else log(`${name} (types, ${c.name}): ok`);
      }
    }
  }
  return failures;
}

let selection;
try {
  selection = selectPackages();
  for (const { manifest } of selection.checked) {
    for (const name of entryPoints(manifest)) {
      if (!SMOKE_CHECKS[name])
        fail(`no smoke check for ${name}: add one to SMOKE_CHECKS in tools/scripts/pack-smoke.mjs`);
    }
  }
} catch (error) {
  process.stderr.write(`pack-smoke: ${error instanceof SmokeFailure ? error.message : error.stack}\n`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'taskpulse-pack-smoke-'));
try {
  main(work, selection);
  if (keep) log(`temporary project kept at ${work}`);
  else rmSync(work, { recursive: true, force: true });
} catch (error) {
  process.stderr.write(`pack-smoke: ${error instanceof SmokeFailure ? error.message : error.stack}\n`);
  process.stderr.write(`pack-smoke: temporary project kept at ${work}\n`);
  process.exitCode = 1;
}
