#!/usr/bin/env node
/**
 * API reports: one `packages/<pkg>/api/<entry>.api.md` per entry point of each publishable package
 * (`index` for `.`, `dialects` for `./dialects`, …), written by API Extractor from the built
 * declaration files (`dist/`, so build first). The reports are checked in; a change to a public
 * signature shows up in review as a change to its report.
 *
 * node tools/scripts/api-report.mjs [--check] [<package dir>…]
 *
 * Without `--check` the reports are (re)written (`npm run api:update`). With `--check` nothing is
 * written and the run fails when a report differs from what the build exports, or when an entry
 * point has no report or a report has no entry point (`npm run api:check`, and the turbo task
 * `api:check` that `npm test` runs per package). Without package dirs: every publishable package;
 * in a package directory (its `api:check` script): `.`.
 *
 * Entry points are the `exports` subpaths with a `@taskpulse/source` condition; the report is made
 * from their `import` types. Messages that would only be noise here are off: release tags
 * (`@public`/`@beta` are not used), "forgotten exports" (internals reachable through a public
 * object, and types shared between a package's entry points, which each report shows once), and
 * documentation (typedoc is the documentation tool and validates the comments: `@inheritDoc`,
 * links, missing comments, TSDoc syntax).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const check = args.includes('--check');
const dirs = args.filter((arg) => !arg.startsWith('--'));

/** Publishable packages under packages/ (or the given directories). */
function packageDirs() {
  if (dirs.length > 0) return dirs.map((dir) => resolve(dir));
  if (basename(dirname(process.cwd())) === 'packages' && existsSync('package.json')) return [process.cwd()];
  const parent = join(root, 'packages');
  return readdirSync(parent, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(parent, entry.name, 'package.json')))
    .map((entry) => join(parent, entry.name))
    .filter((dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private !== true);
}

/** `import` types of an export condition object (nested `node`/`import`/`types` branches). */
function importTypes(value) {
  if (typeof value === 'string') return value.endsWith('.d.ts') ? value : undefined;
  if (!value || typeof value !== 'object') return undefined;
  return importTypes(value.import) ?? (typeof value.types === 'string' ? value.types : undefined);
}

/** The entry points of a package: report name and declaration file. */
function entryPoints(dir, manifest) {
  return Object.entries(manifest.exports ?? {})
    .filter(([key, value]) => key === '.' || (value && typeof value === 'object' && '@taskpulse/source' in value))
    .map(([key, value]) => {
      const types = importTypes(value);
      if (!types) throw new Error(`${manifest.name}: exports["${key}"] has no import types`);
      return { key, name: key === '.' ? 'index' : key.slice(2).replaceAll('/', '-'), types: resolve(dir, types) };
    });
}

const MESSAGES = {
  compilerMessageReporting: { default: { logLevel: 'warning' } },
  extractorMessageReporting: {
    default: { logLevel: 'warning' },
    'ae-missing-release-tag': { logLevel: 'none', addToApiReportFile: false },
    'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: false },
    'ae-internal-missing-underscore': { logLevel: 'none', addToApiReportFile: false },
    'ae-unresolved-link': { logLevel: 'none', addToApiReportFile: false },
    'ae-undocumented': { logLevel: 'none', addToApiReportFile: false },
    'ae-unresolved-inheritdoc-reference': { logLevel: 'none', addToApiReportFile: false },
    'ae-unresolved-inheritdoc-base': { logLevel: 'none', addToApiReportFile: false },
  },
  tsdocMessageReporting: { default: { logLevel: 'none', addToApiReportFile: false } },
};

function report(dir, manifest, entry, temp) {
  if (!existsSync(entry.types)) throw new Error(`${manifest.name}: ${entry.types} is missing: build first`);
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: dir,
      mainEntryPointFilePath: entry.types,
      // Resolve sibling packages through their `exports` (their `dist/`), as a user's compiler does.
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            target: 'es2022',
            module: 'nodenext',
            moduleResolution: 'nodenext',
            lib: ['es2022', 'dom'],
            types: ['node'],
            strict: true,
            skipLibCheck: true,
          },
          files: [entry.types],
        },
      },
      apiReport: {
        enabled: true,
        reportFileName: entry.name,
        reportFolder: join(dir, 'api'),
        reportTempFolder: temp,
        includeForgottenExports: false,
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      newlineKind: 'lf',
      messages: MESSAGES,
    },
    configObjectFullPath: join(dir, 'api-extractor.json'),
    packageJsonFullPath: join(dir, 'package.json'),
  });
  const problems = [];
  const result = Extractor.invoke(config, {
    localBuild: !check,
    showVerboseMessages: false,
    messageCallback: (message) => {
      if (message.category === 'console') {
        // The report being created, updated or differing is judged from the result below.
        message.handled = true;
      } else if (message.logLevel === 'warning' || message.logLevel === 'error') {
        problems.push(message.formatMessageWithLocation(dir));
        message.handled = true;
      }
    },
  });
  if (!result.succeeded && !result.apiReportChanged && problems.length === 0) problems.push('API Extractor failed');
  return { changed: result.apiReportChanged, problems };
}

let failed = 0;
for (const dir of packageDirs()) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const entries = entryPoints(dir, manifest);
  const temp = mkdtempSync(join(tmpdir(), 'taskpulse-api-'));
  try {
    mkdirSync(join(dir, 'api'), { recursive: true });
    for (const entry of entries) {
      const label = entry.key === '.' ? manifest.name : `${manifest.name}/${entry.key.slice(2)}`;
      const file = `packages/${basename(dir)}/api/${entry.name}.api.md`;
      const { changed, problems } = report(dir, manifest, entry, temp);
      for (const problem of problems) process.stderr.write(`api-report: ${label}: ${problem}\n`);
      if (problems.length > 0) failed++;
      else if (check && changed) {
        failed++;
        process.stderr.write(
          `api-report: ${label}: the public API differs from ${file}: ` +
            'run `npm run api:update` and commit the report\n',
        );
      } else
        process.stdout.write(`api-report: ${label}: ${check ? 'matches' : changed ? 'wrote' : 'unchanged'} ${file}\n`);
    }
    // A report whose entry point is gone.
    const expected = new Set(entries.map((entry) => `${entry.name}.api.md`));
    for (const file of readdirSync(join(dir, 'api')).filter((f) => f.endsWith('.api.md') && !expected.has(f))) {
      if (check) {
        failed++;
        process.stderr.write(`api-report: packages/${basename(dir)}/api/${file} has no entry point: delete it\n`);
      } else {
        rmSync(join(dir, 'api', file));
        process.stdout.write(`api-report: removed packages/${basename(dir)}/api/${file} (no entry point)\n`);
      }
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
if (failed > 0) process.exitCode = 1;
